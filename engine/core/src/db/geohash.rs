//! Geohash math for the geo commands, as redis-server 7.0 computes it, so that a geo set reads,
//! searches and prints identically here and there.
//!
//! A point is stored as a sorted-set score: its longitude and latitude, each scaled into
//! `2^26` cells of its range (longitude -180..180, latitude ±85.05112878, the Web Mercator
//! band), interleaved bit by bit (latitude in the even bits, longitude in the odd ones) into a
//! 52-bit integer. Decoding answers the centre of the cell. A search covers its shape with the
//! cell that holds the centre plus its eight neighbours, at the coarsest precision (step) whose
//! cells are still larger than the shape; each of those nine cells is one score range of the
//! sorted set, and every member found is then checked against the exact shape with the
//! haversine distance on a sphere of Redis's radius.
//!
//! Every formula keeps Redis's order of floating-point operations: a reordering changes the
//! last bit of a distance and so, at a boundary, whether a member is found.

/// The sphere's radius for distances (Redis's EARTH_RADIUS_IN_METERS).
pub const EARTH_RADIUS_METERS: f64 = 6372797.560856;
/// Half the Earth's circumference in Web Mercator metres (MERCATOR_MAX), for step estimation.
const MERCATOR_MAX_METERS: f64 = 20037726.37;
/// Bits per coordinate in a stored score (GEO_STEP_MAX): 26 + 26 = 52, a double's mantissa.
pub const STEP_MAX: u8 = 26;
pub const LONGITUDE_MIN: f64 = -180.0;
pub const LONGITUDE_MAX: f64 = 180.0;
/// The latitudes Web Mercator can project (GEO_LAT_MIN/MAX).
pub const LATITUDE_MIN: f64 = -85.05112878;
pub const LATITUDE_MAX: f64 = 85.05112878;

/// The alphabet of the standard geohash text (GEOHASH).
const BASE32: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
/// Characters of a GEOHASH answer: 52 bits give ten and a bit, the eleventh is always '0'.
const GEOHASH_TEXT_LEN: usize = 11;

/// A closed interval of one coordinate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

/// The ranges a stored score encodes (Redis's geohashGetCoordRange).
const LONGITUDES: Range = Range {
    min: LONGITUDE_MIN,
    max: LONGITUDE_MAX,
};
const LATITUDES: Range = Range {
    min: LATITUDE_MIN,
    max: LATITUDE_MAX,
};

/// A cell: `step` bits per coordinate, interleaved in `bits`. A zero cell (bits and step 0)
/// marks a neighbour the search skips.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    pub bits: u64,
    pub step: u8,
}

impl Cell {
    const NONE: Cell = Cell { bits: 0, step: 0 };

    fn is_none(self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// The cell's bits left-aligned to 52 (geohashAlign52Bits): the lowest score inside it.
    pub fn aligned52(self) -> u64 {
        self.bits << (52 - u32::from(self.step) * 2)
    }

    /// The scores of the members inside the cell: `[min, max)`.
    pub fn score_range(self) -> (f64, f64) {
        let next = Cell {
            bits: self.bits + 1,
            step: self.step,
        };
        (self.aligned52() as f64, next.aligned52() as f64)
    }
}

/// A cell's extent in degrees.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Area {
    pub longitude: Range,
    pub latitude: Range,
}

/// Spreads the 32 bits of `v` to the even bit positions of a u64.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// The inverse of `spread`: the even bits of `x`, packed.
fn squash(x: u64) -> u32 {
    let mut x = x & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    ((x | (x >> 16)) & 0x0000_0000_FFFF_FFFF) as u32
}

/// The cell of `step` bits per coordinate holding the point, over the given ranges; None out
/// of range (geohashEncode). The offsets truncate as C's double-to-uint32 conversion does; a
/// point on the upper edge (longitude 180) sets the bit just above the cell's bits, as in Redis.
fn encode_in(longitudes: Range, latitudes: Range, lon: f64, lat: f64, step: u8) -> Option<Cell> {
    assert!((1..=32).contains(&step), "geohash step {step}");
    let outside_wgs84 = !(LONGITUDE_MIN..=LONGITUDE_MAX).contains(&lon)
        || !(LATITUDE_MIN..=LATITUDE_MAX).contains(&lat);
    let outside_ranges = !(latitudes.min..=latitudes.max).contains(&lat)
        || !(longitudes.min..=longitudes.max).contains(&lon);
    if outside_wgs84 || outside_ranges {
        return None;
    }
    let cells = (1u64 << step) as f64;
    let lat_offset = (lat - latitudes.min) / (latitudes.max - latitudes.min) * cells;
    let lon_offset = (lon - longitudes.min) / (longitudes.max - longitudes.min) * cells;
    let bits = spread(lat_offset as u32) | (spread(lon_offset as u32) << 1);
    Some(Cell { bits, step })
}

/// The cell of a point in the stored-score ranges.
pub fn encode(lon: f64, lat: f64, step: u8) -> Option<Cell> {
    encode_in(LONGITUDES, LATITUDES, lon, lat, step)
}

/// The score GEOADD stores for a point already checked to be in range.
pub fn score_of(lon: f64, lat: f64) -> f64 {
    let cell = encode(lon, lat, STEP_MAX).expect("coordinates checked by the caller");
    cell.aligned52() as f64
}

fn decode_in(longitudes: Range, latitudes: Range, cell: Cell) -> Area {
    let lat_cell = u64::from(squash(cell.bits));
    let lon_cell = u64::from(squash(cell.bits >> 1));
    let cells = (1u64 << cell.step) as f64;
    let lat_scale = latitudes.max - latitudes.min;
    let lon_scale = longitudes.max - longitudes.min;
    Area {
        latitude: Range {
            min: latitudes.min + (lat_cell as f64 / cells) * lat_scale,
            max: latitudes.min + ((lat_cell + 1) as f64 / cells) * lat_scale,
        },
        longitude: Range {
            min: longitudes.min + (lon_cell as f64 / cells) * lon_scale,
            max: longitudes.min + ((lon_cell + 1) as f64 / cells) * lon_scale,
        },
    }
}

/// A cell's extent in the stored-score ranges (geohashDecode).
pub fn decode(cell: Cell) -> Area {
    decode_in(LONGITUDES, LATITUDES, cell)
}

/// C's `(uint64_t)` of a double as x86-64 compilers emit it: negative values through a signed
/// conversion (-1 becomes all ones), values past 2^64 to 0. Any score decodes, as in Redis.
fn c_double_to_u64(score: f64) -> u64 {
    const TWO_POW_64: f64 = 18446744073709551616.0;
    if score < 0.0 {
        (score as i64) as u64
    } else if score >= TWO_POW_64 {
        0
    } else {
        score as u64
    }
}

/// The point a stored score stands for: its cell's centre, clamped into range. (Always some:
/// Redis's decode of a 26-step cell cannot fail; the Option keeps its shape.)
pub fn decode_score(score: f64) -> Option<(f64, f64)> {
    let cell = Cell {
        bits: c_double_to_u64(score),
        step: STEP_MAX,
    };
    let area = decode(cell);
    let lon = ((area.longitude.min + area.longitude.max) / 2.0).clamp(LONGITUDE_MIN, LONGITUDE_MAX);
    let lat = ((area.latitude.min + area.latitude.max) / 2.0).clamp(LATITUDE_MIN, LATITUDE_MAX);
    Some((lon, lat))
}

/// The standard 11-character geohash of a stored score (GEOHASH): the decoded point encoded
/// again over latitudes ±90, as other geohash tools expect.
pub fn geohash_text(score: f64) -> Option<[u8; GEOHASH_TEXT_LEN]> {
    let (lon, lat) = decode_score(score)?;
    let latitudes = Range {
        min: -90.0,
        max: 90.0,
    };
    let cell = encode_in(LONGITUDES, latitudes, lon, lat, STEP_MAX)?;
    let mut text = [BASE32[0]; GEOHASH_TEXT_LEN];
    for (i, c) in text.iter_mut().enumerate().take(GEOHASH_TEXT_LEN - 1) {
        let shift = 52 - (i + 1) * 5;
        *c = BASE32[((cell.bits >> shift) & 0x1f) as usize];
    }
    Some(text)
}

/// Moves a cell by one along longitude (`east`) or latitude (`north`), wrapping around the
/// range: the coordinate's bits are incremented or decremented through the other's.
fn step_cell(cell: Cell, longitude: bool, forward: bool) -> Cell {
    const ODD: u64 = 0xaaaa_aaaa_aaaa_aaaa;
    const EVEN: u64 = 0x5555_5555_5555_5555;
    let (moving_mask, other_mask) = if longitude { (ODD, EVEN) } else { (EVEN, ODD) };
    let width = 64 - u32::from(cell.step) * 2;
    let moving = cell.bits & moving_mask;
    let other = cell.bits & other_mask;
    // The other coordinate's bits, filled in, carry the increment across them.
    let filler = other_mask >> width;
    let moved = if forward {
        moving.wrapping_add(filler + 1)
    } else {
        (moving | filler).wrapping_sub(filler + 1)
    };
    Cell {
        bits: (moved & (moving_mask >> width)) | other,
        step: cell.step,
    }
}

/// A cell and its eight neighbours, in Redis's search order (geohashNeighbors then
/// membersOfAllNeighbors): self, north, south, east, west, north-east, north-west, south-east,
/// south-west.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Neighbourhood {
    pub cells: [Cell; 9],
}

const SELF: usize = 0;
const NORTH: usize = 1;
const SOUTH: usize = 2;
const EAST: usize = 3;
const WEST: usize = 4;
const NORTH_EAST: usize = 5;
const NORTH_WEST: usize = 6;
const SOUTH_EAST: usize = 7;
const SOUTH_WEST: usize = 8;

fn neighbourhood(cell: Cell) -> Neighbourhood {
    let lon = |c: Cell, d: i8| if d == 0 { c } else { step_cell(c, true, d > 0) };
    let lat = |c: Cell, d: i8| {
        if d == 0 {
            c
        } else {
            step_cell(c, false, d > 0)
        }
    };
    let at = |dlon: i8, dlat: i8| lat(lon(cell, dlon), dlat);
    let mut cells = [cell; 9];
    cells[NORTH] = at(0, 1);
    cells[SOUTH] = at(0, -1);
    cells[EAST] = at(1, 0);
    cells[WEST] = at(-1, 0);
    cells[NORTH_EAST] = at(1, 1);
    cells[NORTH_WEST] = at(-1, 1);
    cells[SOUTH_EAST] = at(1, -1);
    cells[SOUTH_WEST] = at(-1, -1);
    Neighbourhood { cells }
}

fn deg_rad(degrees: f64) -> f64 {
    degrees * (std::f64::consts::PI / 180.0)
}

fn rad_deg(radians: f64) -> f64 {
    radians / (std::f64::consts::PI / 180.0)
}

/// The great-circle distance in metres between two points (haversine; geohashGetDistance as
/// redis-server 7.0 has it, without 7.2's shortcut for equal longitudes).
pub fn distance_m(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (lat1r, lon1r) = (deg_rad(lat1), deg_rad(lon1));
    let (lat2r, lon2r) = (deg_rad(lat2), deg_rad(lon2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let v = ((lon2r - lon1r) / 2.0).sin();
    2.0 * EARTH_RADIUS_METERS * (u * u + lat1r.cos() * lat2r.cos() * v * v).sqrt().asin()
}

/// What a search covers, centred on `lon`,`lat`; sizes in the unit, `to_meters` converts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    Radius(f64),
    Box { width: f64, height: f64 },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Search {
    pub lon: f64,
    pub lat: f64,
    pub shape: Shape,
    pub to_meters: f64,
}

impl Search {
    /// The distance in metres from the centre when the point lies inside the shape.
    pub fn distance_if_inside(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.shape {
            Shape::Radius(radius) => {
                let d = distance_m(self.lon, self.lat, lon, lat);
                (d <= radius * self.to_meters).then_some(d)
            }
            Shape::Box { width, height } => {
                // Along the point's parallel, then along its meridian (7.0's order).
                let lon_d = distance_m(lon, lat, self.lon, lat);
                let lat_d = distance_m(lon, lat, lon, self.lat);
                let (w, h) = (width * self.to_meters, height * self.to_meters);
                if lon_d > w / 2.0 || lat_d > h / 2.0 {
                    return None;
                }
                Some(distance_m(self.lon, self.lat, lon, lat))
            }
        }
    }

    /// The shape's bounding box (geohashBoundingBox): min longitude, min latitude, max
    /// longitude, max latitude. Its east-west extent is taken at the edge nearer the pole.
    fn bounds(&self) -> [f64; 4] {
        let (height, width) = match self.shape {
            Shape::Radius(r) => (self.to_meters * r, self.to_meters * r),
            Shape::Box { width, height } => {
                (self.to_meters * height / 2.0, self.to_meters * width / 2.0)
            }
        };
        let lat_delta = rad_deg(height / EARTH_RADIUS_METERS);
        let lon_delta_top =
            rad_deg(width / EARTH_RADIUS_METERS / deg_rad(self.lat + lat_delta).cos());
        let lon_delta_bottom =
            rad_deg(width / EARTH_RADIUS_METERS / deg_rad(self.lat - lat_delta).cos());
        let lon_delta = if self.lat < 0.0 {
            lon_delta_bottom
        } else {
            lon_delta_top
        };
        [
            self.lon - lon_delta,
            self.lat - lat_delta,
            self.lon + lon_delta,
            self.lat + lat_delta,
        ]
    }

    /// The nine cells to scan (geohashCalculateAreasByShapeWGS84), useless ones zeroed.
    pub fn cells(&self) -> Neighbourhood {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounds();
        let radius_m = match self.shape {
            Shape::Radius(r) => r,
            Shape::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        } * self.to_meters;
        let mut step = estimate_step(radius_m, self.lat);
        let encode_here = |step| encode(self.lon, self.lat, step).expect("centre checked in range");
        let mut cell = encode_here(step);
        let mut near = neighbourhood(cell);
        // A centre near its cell's edge can leave the shape past a neighbour: one step coarser.
        let north = decode(near.cells[NORTH]);
        let south = decode(near.cells[SOUTH]);
        let east = decode(near.cells[EAST]);
        let west = decode(near.cells[WEST]);
        let too_fine = north.latitude.max < max_lat
            || south.latitude.min > min_lat
            || east.longitude.max < max_lon
            || west.longitude.min > min_lon;
        if step > 1 && too_fine {
            step -= 1;
            cell = encode_here(step);
            near = neighbourhood(cell);
        }
        let area = decode(cell);
        if step >= 2 {
            let mut drop =
                |sides: [usize; 3]| sides.iter().for_each(|&i| near.cells[i] = Cell::NONE);
            if area.latitude.min < min_lat {
                drop([SOUTH, SOUTH_WEST, SOUTH_EAST]);
            }
            if area.latitude.max > max_lat {
                drop([NORTH, NORTH_EAST, NORTH_WEST]);
            }
            if area.longitude.min < min_lon {
                drop([WEST, SOUTH_WEST, NORTH_WEST]);
            }
            if area.longitude.max > max_lon {
                drop([EAST, SOUTH_EAST, NORTH_EAST]);
            }
        }
        debug_assert_eq!(near.cells[SELF], cell);
        near
    }
}

/// The coarsest step whose cells still exceed `range_m` (geohashEstimateStepsByRadius), one
/// or two coarser near the poles, within 1..=26.
pub fn estimate_step(range_m: f64, lat: f64) -> u8 {
    if range_m == 0.0 {
        return STEP_MAX;
    }
    let mut range = range_m;
    let mut step: i32 = 1;
    while range < MERCATOR_MAX_METERS {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, i32::from(STEP_MAX)) as u8
}

/// The cells a search scans, in order (membersOfAllNeighbors): zeroed cells are skipped, and so
/// is a cell equal to the last one scanned unless that was the centre (near the poles and for
/// huge radii neighbours coincide; Redis compares with the last scanned one only past the
/// centre).
pub fn cells_to_scan(near: &Neighbourhood) -> Vec<Cell> {
    let mut out: Vec<Cell> = Vec::with_capacity(9);
    let mut last_scanned = SELF;
    for (i, &cell) in near.cells.iter().enumerate() {
        if cell.is_none() {
            continue;
        }
        if last_scanned != SELF && cell == near.cells[last_scanned] {
            continue;
        }
        out.push(cell);
        last_scanned = i;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_palermo_as_redis_does() {
        // GEOADD Sicily 13.361389 38.115556 Palermo: ZSCORE 3479099956230698 in redis 7.0.
        assert_eq!(score_of(13.361389, 38.115556), 3479099956230698.0);
        assert_eq!(score_of(15.087269, 37.502669), 3479447370796909.0);
        let (lon, lat) = decode_score(3479099956230698.0).unwrap();
        assert_eq!(format!("{lon:.17}"), "13.36138933897018433");
        assert_eq!(format!("{lat:.17}"), "38.11555639549629859");
        assert_eq!(&geohash_text(3479099956230698.0).unwrap(), b"sqc8b49rny0");
    }

    #[test]
    fn distance_matches_redis() {
        let (a, b) = (
            decode_score(3479099956230698.0).unwrap(),
            decode_score(3479447370796909.0).unwrap(),
        );
        let d = distance_m(a.0, a.1, b.0, b.1);
        assert_eq!(format!("{:.4}", d / 1000.0), "166.2742");
    }

    #[test]
    fn spread_and_squash_are_inverse() {
        for v in [0u32, 1, 0x3ff_ffff, 0xdead_beef, u32::MAX] {
            assert_eq!(squash(spread(v)), v);
        }
    }

    #[test]
    fn neighbours_wrap_at_the_antimeridian() {
        let west_edge = encode(-179.9, 0.0, 4).unwrap();
        let west = step_cell(west_edge, true, false);
        let area = decode(west);
        assert!(area.longitude.max > 179.0, "{area:?}");
        let east = step_cell(west, true, true);
        assert_eq!(east, west_edge);
    }

    #[test]
    fn the_zero_cell_does_not_decode_and_edges_clamp() {
        assert!(decode_score(0.0).is_some());
        let (lon, _) = decode_score(score_of(180.0, 0.0)).unwrap();
        assert_eq!(lon, 180.0);
        assert!(encode(180.1, 0.0, 26).is_none());
        assert!(encode(0.0, 85.06, 26).is_none());
    }

    #[test]
    fn steps_shrink_with_the_radius_and_near_the_poles() {
        assert_eq!(estimate_step(0.0, 0.0), 26);
        assert_eq!(estimate_step(1.0, 0.0), 24);
        assert_eq!(estimate_step(200_000.0, 0.0), 6);
        assert_eq!(estimate_step(200_000.0, 70.0), 5);
        assert_eq!(estimate_step(200_000.0, -85.0), 4);
        assert_eq!(estimate_step(1e9, 0.0), 1);
    }
}
