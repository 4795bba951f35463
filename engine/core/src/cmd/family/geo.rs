//! Geo: Redis 7.0's GEOADD, GEODIST, GEOHASH, GEOPOS, GEORADIUS, GEORADIUSBYMEMBER, their _RO
//! forms, GEOSEARCH and GEOSEARCHSTORE, on sorted sets whose scores are 52-bit geohashes
//! (`db::geohash`), so a geo set written here reads the same in Redis and back.
//!
//! GEOADD is ZADD with computed scores: it goes through the sorted-set write path
//! (`cmd::zset::zadd`). A search scans the nine cells `geohash::Search::cells` picks, each a
//! score range of the sorted set in score order, keeps the members inside the exact shape, then
//! sorts by distance when asked (a stable sort: ties keep the scan order, as glibc's qsort does
//! for Redis) and answers or stores the first COUNT.
//!
//! Replies as redis-server 7.0 writes them: distances `%.4f` bulk strings in both protocols,
//! coordinates `%.17Lf` with trailing zeros dropped (RESP3 doubles), hashes integers. Checks in
//! Redis's order: the source's type first, then the center and the radius, then the options
//! one by one, then the options' combinations; a missing source answers empty (or deletes the
//! STORE destination) before any search.
//!
//! Deliberate differences: COUNT without ANY keeps the first COUNT after a full stable sort,
//! where Redis's partial quicksort may order members at exactly equal distances differently.
//! GEORADIUS with two STORE (or two STOREDIST) options writes the last, as Redis does, and
//! COMMAND GETKEYS lists that key too (Redis's keyword specs list only the first): routing and
//! locking read the same keys, so they must include the one written.

use crate::access::ExecCx;
use crate::argv::Argv;
use crate::cmd::args::eq_word;
use crate::cmd::{acl, flag, keyflag as kf, CommandSpec, FindKeys, KeySpec, Merge};
use crate::cmd::{Family, GatherDbs};
use crate::db::geohash::{self, Search, Shape};
use crate::db::ZSetValue;
use crate::error::{CmdError, GeoError};
use crate::numfmt;
use crate::reply::Reply;

const GEO: Family = Family {
    group: "geo",
    acl: acl::GEO,
};

const RO_ACCESS: &[KeySpec] = &[KeySpec::one(kf::RO | kf::ACCESS, 1)];
const RW_UPDATE: &[KeySpec] = &[KeySpec::one(kf::RW | kf::UPDATE, 1)];

/// GEORADIUS(BYMEMBER)'s STORE and STOREDIST destinations, searched from argument `from`.
const fn store_after(keyword: &'static str, from: i8) -> KeySpec {
    let find = FindKeys::Range {
        last: 0,
        step: 1,
        limit: 0,
    };
    KeySpec::after_keyword(kf::OW | kf::UPDATE, keyword, from, find)
}

const GEORADIUS_KEYS: &[KeySpec] = &[
    KeySpec::one(kf::RO | kf::ACCESS, 1),
    store_after("STORE", 6).with_keys_for(georadius_store_key),
    store_after("STOREDIST", 6),
];
const GEORADIUSBYMEMBER_KEYS: &[KeySpec] = &[
    KeySpec::one(kf::RO | kf::ACCESS, 1),
    store_after("STORE", 5).with_keys_for(georadiusbymember_store_key),
    store_after("STOREDIST", 5),
];

/// The destination GEORADIUS really writes (the last STORE or STOREDIST), as its parse finds
/// it, when the keyword specs miss it (they stop at the first of each): routing and locking
/// must hold it. COMMAND GETKEYS then lists it too, where Redis lists only the first.
fn georadius_store_key(args: &[&[u8]]) -> Vec<usize> {
    missed_store_key(args, Form::Radius { store: true }, 6)
}

fn georadiusbymember_store_key(args: &[&[u8]]) -> Vec<usize> {
    missed_store_key(args, Form::RadiusByMember { store: true }, 5)
}

fn missed_store_key(args: &[&[u8]], form: Form, startfrom: i8) -> Vec<usize> {
    let argv = Argv::from_slices(args);
    let Ok(Output::Store { at, .. }) = parse_search(&argv, form, None).map(|a| a.output) else {
        return Vec::new();
    };
    let found_by_specs = ["STORE", "STOREDIST"]
        .iter()
        .any(|&kw| store_after(kw, startfrom).indexes(args).any(|i| i == at));
    if found_by_specs {
        Vec::new()
    } else {
        vec![at]
    }
}
const GEOSEARCHSTORE_KEYS: &[KeySpec] = &[
    KeySpec::one(kf::OW | kf::UPDATE, 1),
    KeySpec::one(kf::RO | kf::ACCESS, 2),
];
const GATHER: Merge = Merge::Gather(GatherDbs::Current);
const W_DENYOOM: u32 = flag::WRITE | flag::DENYOOM;
const SEARCH_COMPLEXITY: &str = "O(N+log(M)) where N is the number of elements inside the \
    bounding box of the circular area delimited by center and radius and M is the number of \
    items inside the index.";
const GEOSEARCH_COMPLEXITY: &str = "O(N+log(M)) where N is the number of elements in the \
    grid-aligned bounding box area around the shape provided as the filter and M is the number \
    of items inside the shape";

#[rustfmt::skip]
pub const SPECS: &[CommandSpec] = &[
    GEO.one_key("geoadd", -5, W_DENYOOM, RW_UPDATE, geoadd, GEO.docs(
        "Add one or more geospatial items in the geospatial index represented using a sorted set",
        "3.2.0",
        "O(log(N)) for each item added, where N is the number of elements in the sorted set.")),
    GEO.one_key("geodist", -4, flag::READONLY, RO_ACCESS, geodist, GEO.docs(
        "Returns the distance between two members of a geospatial index",
        "3.2.0",
        "O(log(N))")),
    GEO.one_key("geohash", -2, flag::READONLY, RO_ACCESS, geohash_cmd, GEO.docs(
        "Returns members of a geospatial index as standard geohash strings",
        "3.2.0",
        "O(log(N)) for each member requested, where N is the number of elements in the sorted \
        set.")),
    GEO.one_key("geopos", -2, flag::READONLY, RO_ACCESS, geopos, GEO.docs(
        "Returns longitude and latitude of members of a geospatial index",
        "3.2.0",
        "O(N) where N is the number of members requested.")),
    GEO.keyed("georadius", -6, W_DENYOOM, GEORADIUS_KEYS, georadius, GATHER, GEO.docs(
        "Query a sorted set representing a geospatial index to fetch members matching a given \
        maximum distance from a point",
        "3.2.0",
        SEARCH_COMPLEXITY)),
    GEO.keyed("georadiusbymember", -5, W_DENYOOM, GEORADIUSBYMEMBER_KEYS, georadiusbymember,
        GATHER, GEO.docs(
        "Query a sorted set representing a geospatial index to fetch members matching a given \
        maximum distance from a member",
        "3.2.0",
        SEARCH_COMPLEXITY)),
    GEO.one_key("georadius_ro", -6, flag::READONLY, RO_ACCESS, georadius_ro, GEO.docs(
        "A read-only variant for GEORADIUS",
        "3.2.10",
        SEARCH_COMPLEXITY)),
    GEO.one_key("georadiusbymember_ro", -5, flag::READONLY, RO_ACCESS, georadiusbymember_ro,
        GEO.docs(
        "A read-only variant for GEORADIUSBYMEMBER",
        "3.2.10",
        SEARCH_COMPLEXITY)),
    GEO.one_key("geosearch", -7, flag::READONLY, RO_ACCESS, geosearch, GEO.docs(
        "Query a sorted set representing a geospatial index to fetch members inside an area of \
        a box or a circle.",
        "6.2.0",
        GEOSEARCH_COMPLEXITY)),
    GEO.keyed("geosearchstore", -8, W_DENYOOM, GEOSEARCHSTORE_KEYS, geosearchstore, GATHER,
        GEO.docs(
        "Query a sorted set representing a geospatial index to fetch members inside an area of \
        a box or a circle, and store the result in another key.",
        "6.2.0",
        GEOSEARCH_COMPLEXITY)),
];

/// `%.17Lf` with trailing zeros and a bare point dropped (ld2string's human mode), as Redis
/// prints a coordinate.
fn human_text(value: f64) -> Vec<u8> {
    let mut text = format!("{value:.17}");
    if text.contains('.') {
        while text.ends_with('0') {
            text.pop();
        }
        if text.ends_with('.') {
            text.pop();
        }
    }
    if text == "-0" {
        text = "0".into();
    }
    text.into_bytes()
}

/// A distance as Redis answers it: `%.4f` in a bulk string, in both protocols.
fn distance_reply(d: f64) -> Reply {
    Reply::bulk(format!("{d:.4}"))
}

fn coords_reply(lon: f64, lat: f64) -> Reply {
    Reply::Array(vec![
        Reply::DoubleText(human_text(lon)),
        Reply::DoubleText(human_text(lat)),
    ])
}

/// extractLongLatOrReply: two doubles (getDoubleFromObject), then the range.
fn parse_lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), CmdError> {
    let lon = numfmt::parse_score(lon).ok_or(CmdError::NotFloat)?;
    let lat = numfmt::parse_score(lat).ok_or(CmdError::NotFloat)?;
    let lon_ok = (geohash::LONGITUDE_MIN..=geohash::LONGITUDE_MAX).contains(&lon);
    let lat_ok = (geohash::LATITUDE_MIN..=geohash::LATITUDE_MAX).contains(&lat);
    if !lon_ok || !lat_ok {
        return Err(GeoError::InvalidLonLat(format!("{lon:.6},{lat:.6}")).into());
    }
    Ok((lon, lat))
}

/// Metres per unit (extractUnitOrReply).
fn parse_unit(unit: &[u8]) -> Result<f64, CmdError> {
    let units: [(&str, f64); 4] = [("m", 1.0), ("km", 1000.0), ("ft", 0.3048), ("mi", 1609.34)];
    units
        .iter()
        .find(|(name, _)| eq_word(unit, name))
        .map(|&(_, to_meters)| to_meters)
        .ok_or(GeoError::UnsupportedUnit.into())
}

/// A non-negative double, or `not_numeric`.
fn parse_size(arg: &[u8], not_numeric: GeoError) -> Result<f64, CmdError> {
    numfmt::parse_score(arg).ok_or(not_numeric.into())
}

/// `<radius> <unit>`: (radius, metres per unit).
fn parse_radius(radius: &[u8], unit: &[u8]) -> Result<(f64, f64), CmdError> {
    let radius = parse_size(radius, GeoError::NeedNumericRadius)?;
    if radius < 0.0 {
        return Err(GeoError::RadiusNegative.into());
    }
    Ok((radius, parse_unit(unit)?))
}

/// `<width> <height> <unit>`: (width, height, metres per unit).
fn parse_box(width: &[u8], height: &[u8], unit: &[u8]) -> Result<(f64, f64, f64), CmdError> {
    let width = parse_size(width, GeoError::NeedNumericWidth)?;
    let height = parse_size(height, GeoError::NeedNumericHeight)?;
    if width < 0.0 || height < 0.0 {
        return Err(GeoError::BoxNegative.into());
    }
    Ok((width, height, parse_unit(unit)?))
}

/// A member's decoded position, when it is there and its score decodes.
fn member_point(z: &ZSetValue, member: &[u8]) -> Option<(f64, f64)> {
    geohash::decode_score(z.score(member)?)
}

// ---------------------------------------------------------------------------------------------
// GEOADD, GEODIST, GEOHASH, GEOPOS.

fn geoadd(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let (mut nx, mut xx) = (false, false);
    let mut at = 2;
    while at < argv.len() {
        match &argv[at] {
            w if eq_word(w, "NX") => nx = true,
            w if eq_word(w, "XX") => xx = true,
            w if eq_word(w, "CH") => {}
            _ => break,
        }
        at += 1;
    }
    if !(argv.len() - at).is_multiple_of(3) || (nx && xx) {
        return Err(CmdError::Syntax);
    }
    // ZADD key [options] score member…, the scores being the points' geohashes.
    let mut zadd_argv = Argv::from_slices(&[b"zadd".as_slice()]);
    for i in 1..at {
        zadd_argv.push(&argv[i]);
    }
    let mut score = Vec::new();
    for triple in (at..argv.len()).step_by(3) {
        let (lon, lat) = parse_lon_lat(&argv[triple], &argv[triple + 1])?;
        score.clear();
        numfmt::fmt_i64(geohash::score_of(lon, lat) as i64, &mut score);
        zadd_argv.push(&score);
        zadd_argv.push(&argv[triple + 2]);
    }
    crate::cmd::zset::zadd(ecx, &zadd_argv)
}

fn geodist(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let to_meters = match argv.len() {
        4 => 1.0,
        5 => parse_unit(&argv[4])?,
        _ => return Err(CmdError::Syntax),
    };
    let Some(z) = ecx.read_zset(&argv[1])? else {
        return Ok(Reply::Nil);
    };
    let (Some(a), Some(b)) = (z.score(&argv[2]), z.score(&argv[3])) else {
        return Ok(Reply::Nil);
    };
    match (geohash::decode_score(a), geohash::decode_score(b)) {
        (Some(a), Some(b)) => Ok(distance_reply(
            geohash::distance_m(a.0, a.1, b.0, b.1) / to_meters,
        )),
        _ => Ok(Reply::Nil),
    }
}

fn geohash_cmd(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let z = ecx.read_zset(&argv[1])?;
    let texts = argv.iter().skip(2).map(|member| {
        let text = z
            .and_then(|z| z.score(member))
            .and_then(geohash::geohash_text);
        text.map_or(Reply::Nil, |t| Reply::bulk(t.to_vec()))
    });
    Ok(Reply::Array(texts.collect()))
}

fn geopos(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    let z = ecx.read_zset(&argv[1])?;
    let points = argv.iter().skip(2).map(|member| {
        let point = z.and_then(|z| member_point(z, member));
        point.map_or(Reply::NilArray, |(lon, lat)| coords_reply(lon, lat))
    });
    Ok(Reply::Array(points.collect()))
}

// ---------------------------------------------------------------------------------------------
// The searches.

/// Which search command runs (georadiusGeneric's flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// GEORADIUS: center `lon lat`, then `radius unit`. `store`: STORE/STOREDIST accepted.
    Radius { store: bool },
    /// GEORADIUSBYMEMBER: center `member`, then `radius unit`.
    RadiusByMember { store: bool },
    /// GEOSEARCH: FROMMEMBER/FROMLONLAT and BYRADIUS/BYBOX among the options.
    Search,
    /// GEOSEARCHSTORE: destination first, STOREDIST a flag.
    SearchStore,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    Unsorted,
    Asc,
    Desc,
}

/// Where the results go.
#[derive(Clone, Debug, PartialEq)]
enum Output<'a> {
    Reply,
    /// Stored as a sorted set under argument `at`; `dist`: scored by distance (STOREDIST)
    /// instead of geohash.
    Store {
        key: &'a [u8],
        at: usize,
        dist: bool,
    },
}

struct SearchArgs<'a> {
    center: Option<(f64, f64)>,
    /// The shape and its unit's metres; None while not given.
    shape: Option<(Shape, f64)>,
    with_dist: bool,
    with_hash: bool,
    with_coord: bool,
    order: Order,
    count: Option<u64>,
    any: bool,
    output: Output<'a>,
}

/// One member found inside the shape.
struct Found {
    member: Vec<u8>,
    score: f64,
    lon: f64,
    lat: f64,
    dist_m: f64,
}

fn georadius(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    search_generic(ecx, argv, Form::Radius { store: true })
}

fn georadiusbymember(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    search_generic(ecx, argv, Form::RadiusByMember { store: true })
}

fn georadius_ro(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    search_generic(ecx, argv, Form::Radius { store: false })
}

fn georadiusbymember_ro(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    search_generic(ecx, argv, Form::RadiusByMember { store: false })
}

fn geosearch(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    search_generic(ecx, argv, Form::Search)
}

fn geosearchstore(ecx: &mut ExecCx, argv: &Argv) -> Result<Reply, CmdError> {
    search_generic(ecx, argv, Form::SearchStore)
}

fn search_generic(ecx: &mut ExecCx, argv: &Argv, form: Form) -> Result<Reply, CmdError> {
    let source_at = if form == Form::SearchStore { 2 } else { 1 };
    // The source is read in place: the search collects what it found, then may store.
    let z = ecx.read_zset(&argv[source_at])?;
    let args = parse_search(argv, form, z)?;
    let Some(z) = z else {
        return Ok(match args.output {
            Output::Store { key, .. } => {
                ecx.delete(key);
                Reply::Int(0)
            }
            Output::Reply => Reply::Array(Vec::new()),
        });
    };
    let (Some(center), Some((shape, to_meters))) = (args.center, args.shape) else {
        unreachable!("a search over a present key has its center and shape")
    };
    let search = Search {
        lon: center.0,
        lat: center.1,
        shape,
        to_meters,
    };
    let limit = if args.any { args.count } else { None };
    let mut found = scan(z, &search, limit);
    let order = match args.order {
        Order::Unsorted if args.count.is_some() && !args.any => Order::Asc,
        other => other,
    };
    match order {
        Order::Unsorted => {}
        Order::Asc => found.sort_by(|a, b| a.dist_m.total_cmp(&b.dist_m)),
        Order::Desc => found.sort_by(|a, b| b.dist_m.total_cmp(&a.dist_m)),
    }
    if let Some(count) = args.count {
        found.truncate(usize::try_from(count).unwrap_or(usize::MAX));
    }
    Ok(match args.output {
        Output::Reply => search_reply(found, &args, to_meters),
        Output::Store { key, dist, .. } => {
            let pairs = found
                .into_iter()
                .map(|f| {
                    let score = if dist { f.dist_m / to_meters } else { f.score };
                    (f.member, score)
                })
                .collect();
            crate::cmd::zset::store_pairs(ecx, key, pairs)
        }
    })
}

fn search_reply(found: Vec<Found>, args: &SearchArgs, to_meters: f64) -> Reply {
    let with_any = args.with_dist || args.with_hash || args.with_coord;
    let items = found.into_iter().map(|f| {
        if !with_any {
            return Reply::Bulk(f.member);
        }
        let mut item = vec![Reply::Bulk(f.member)];
        if args.with_dist {
            item.push(distance_reply(f.dist_m / to_meters));
        }
        if args.with_hash {
            item.push(Reply::Int(f.score as i64));
        }
        if args.with_coord {
            item.push(coords_reply(f.lon, f.lat));
        }
        Reply::Array(item)
    });
    Reply::Array(items.collect())
}

/// The members inside the shape, in scan order; with `limit` (ANY), stops once it has that
/// many (between cells and within one, as Redis does).
fn scan(z: &ZSetValue, search: &Search, limit: Option<u64>) -> Vec<Found> {
    let limit = limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let mut found = Vec::new();
    for cell in geohash::cells_to_scan(&search.cells()) {
        if !found.is_empty() && found.len() >= limit {
            break;
        }
        let (min, max) = cell.score_range();
        let first = z.count_below(&|s, _| s < min);
        z.visit_range(first, z.len(), false, &mut |member, score| {
            if score >= max {
                return false;
            }
            if let Some((lon, lat)) = geohash::decode_score(score) {
                if let Some(dist_m) = search.distance_if_inside(lon, lat) {
                    found.push(Found {
                        member: member.to_vec(),
                        score,
                        lon,
                        lat,
                        dist_m,
                    });
                }
            }
            found.len() < limit
        });
    }
    found
}

/// georadiusGeneric's parse, in its order of checks. `z` is the source (None: absent), needed
/// for a member center.
fn parse_search<'a>(
    argv: &'a Argv,
    form: Form,
    z: Option<&ZSetValue>,
) -> Result<SearchArgs<'a>, CmdError> {
    let mut a = SearchArgs {
        center: None,
        shape: None,
        with_dist: false,
        with_hash: false,
        with_coord: false,
        order: Order::Unsorted,
        count: None,
        any: false,
        output: Output::Reply,
    };
    let base = match form {
        Form::Radius { .. } => {
            a.center = Some(parse_lon_lat(&argv[2], &argv[3])?);
            let (r, unit) = parse_radius(&argv[4], &argv[5])?;
            a.shape = Some((Shape::Radius(r), unit));
            6
        }
        Form::RadiusByMember { .. } => {
            if let Some(z) = z {
                let center = member_point(z, &argv[2]).ok_or(GeoError::MemberNotFound)?;
                a.center = Some(center);
                let (r, unit) = parse_radius(&argv[3], &argv[4])?;
                a.shape = Some((Shape::Radius(r), unit));
            }
            5
        }
        Form::Search => 2,
        Form::SearchStore => {
            a.output = Output::Store {
                key: &argv[1],
                at: 1,
                dist: false,
            };
            3
        }
    };
    let has_from = parse_search_options(argv, base, form, z, &mut a)?;
    check_search_combination(argv, form, &a, has_from)?;
    Ok(a)
}

fn parse_search_options<'a>(
    argv: &'a Argv,
    base: usize,
    form: Form,
    z: Option<&ZSetValue>,
    a: &mut SearchArgs<'a>,
) -> Result<bool, CmdError> {
    let radius_store = matches!(
        form,
        Form::Radius { store: true } | Form::RadiusByMember { store: true }
    );
    let search = matches!(form, Form::Search | Form::SearchStore);
    let (mut from_member, mut from_lonlat, mut by_radius, mut by_box) =
        (false, false, false, false);
    let mut i = base;
    while i < argv.len() {
        let word = &argv[i];
        let left = argv.len() - i - 1;
        if eq_word(word, "WITHDIST") {
            a.with_dist = true;
        } else if eq_word(word, "WITHHASH") {
            a.with_hash = true;
        } else if eq_word(word, "WITHCOORD") {
            a.with_coord = true;
        } else if eq_word(word, "ANY") {
            a.any = true;
        } else if eq_word(word, "ASC") {
            a.order = Order::Asc;
        } else if eq_word(word, "DESC") {
            a.order = Order::Desc;
        } else if eq_word(word, "COUNT") && left >= 1 {
            let count = crate::cmd::args::parse_i64(&argv[i + 1])?;
            if count <= 0 {
                return Err(GeoError::CountNotPositive.into());
            }
            a.count = Some(count as u64);
            i += 1;
        } else if (eq_word(word, "STORE") || eq_word(word, "STOREDIST"))
            && left >= 1
            && radius_store
        {
            a.output = Output::Store {
                key: &argv[i + 1],
                at: i + 1,
                dist: eq_word(word, "STOREDIST"),
            };
            i += 1;
        } else if eq_word(word, "STOREDIST") && form == Form::SearchStore {
            a.output = Output::Store {
                key: &argv[1],
                at: 1,
                dist: true,
            };
        } else if eq_word(word, "FROMMEMBER") && left >= 1 && search && !from_lonlat {
            if let Some(z) = z {
                let center = member_point(z, &argv[i + 1]).ok_or(GeoError::MemberNotFound)?;
                a.center = Some(center);
            }
            from_member = true;
            i += 1;
        } else if eq_word(word, "FROMLONLAT") && left >= 2 && search && !from_member {
            a.center = Some(parse_lon_lat(&argv[i + 1], &argv[i + 2])?);
            from_lonlat = true;
            i += 2;
        } else if eq_word(word, "BYRADIUS") && left >= 2 && search && !by_box {
            let (r, unit) = parse_radius(&argv[i + 1], &argv[i + 2])?;
            a.shape = Some((Shape::Radius(r), unit));
            by_radius = true;
            i += 2;
        } else if eq_word(word, "BYBOX") && left >= 3 && search && !by_radius {
            let (width, height, unit) = parse_box(&argv[i + 1], &argv[i + 2], &argv[i + 3])?;
            a.shape = Some((Shape::Box { width, height }, unit));
            by_box = true;
            i += 3;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(from_member || from_lonlat)
}

/// The combination checks that follow the option loop, in Redis's order; `has_from`: a
/// GEOSEARCH center was named (a member center over a missing key leaves no point but counts).
fn check_search_combination(
    argv: &Argv,
    form: Form,
    a: &SearchArgs,
    has_from: bool,
) -> Result<(), CmdError> {
    let search = matches!(form, Form::Search | Form::SearchStore);
    let storing = matches!(a.output, Output::Store { .. });
    if storing && (a.with_dist || a.with_hash || a.with_coord) {
        let what = if form == Form::SearchStore {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(GeoError::StoreWithReplyOptions(what).into());
    }
    let name = || String::from_utf8_lossy(&argv[0]).into_owned();
    if search && !has_from {
        return Err(GeoError::NeedFrom(name()).into());
    }
    if search && a.shape.is_none() {
        return Err(GeoError::NeedBy(name()).into());
    }
    if a.any && a.count.is_none() {
        return Err(GeoError::AnyNeedsCount.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::each;

    #[test]
    fn coordinates_print_as_redis_human_long_doubles() {
        assert_eq!(human_text(13.361389338970184), b"13.36138933897018433");
        assert_eq!(human_text(180.0), b"180");
        assert_eq!(human_text(-0.0), b"0");
        assert_eq!(human_text(0.5), b"0.5");
    }

    /// The last STORE wins, as in Redis; routing must hold that key even when the keyword
    /// spec stops at the first (one node of several shards: the destinations land anywhere).
    #[test]
    fn the_last_store_of_georadius_is_written_on_any_shard() {
        each(|t| {
            t.run(&["GEOADD", "g", "13.361389", "38.115556", "Palermo"]);
            for (first, last) in [("d1", "d2"), ("d3", "d4"), ("d5", "d6"), ("d7", "d8")] {
                t.check(&[
                    (
                        &[
                            "GEORADIUS",
                            "g",
                            "13",
                            "38",
                            "100",
                            "km",
                            "STORE",
                            first,
                            "STOREDIST",
                            last,
                        ],
                        ":1\r\n",
                    ),
                    (&["EXISTS", first], ":0\r\n"),
                    (&["ZCARD", last], ":1\r\n"),
                    (
                        &[
                            "GEORADIUSBYMEMBER",
                            "g",
                            "Palermo",
                            "1",
                            "km",
                            "STOREDIST",
                            last,
                            "STORE",
                            first,
                        ],
                        ":1\r\n",
                    ),
                    (&["ZSCORE", first, "Palermo"], "$16\r\n3479099956230698\r\n"),
                ]);
            }
        });
    }

    #[test]
    fn sicily_answers_as_redis() {
        each(|t| {
            t.check(&[
                (
                    &[
                        "GEOADD",
                        "Sicily",
                        "13.361389",
                        "38.115556",
                        "Palermo",
                        "15.087269",
                        "37.502669",
                        "Catania",
                    ],
                    ":2\r\n",
                ),
                (
                    &["GEODIST", "Sicily", "Palermo", "Catania", "km"],
                    "$8\r\n166.2742\r\n",
                ),
                (
                    &["GEOHASH", "Sicily", "Palermo", "nosuch"],
                    "*2\r\n$11\r\nsqc8b49rny0\r\n$-1\r\n",
                ),
                (
                    &[
                        "GEOSEARCH",
                        "Sicily",
                        "FROMLONLAT",
                        "15",
                        "37",
                        "BYRADIUS",
                        "200",
                        "km",
                        "ASC",
                        "WITHDIST",
                    ],
                    "*2\r\n*2\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n\
                     *2\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n",
                ),
            ]);
        });
    }
}
