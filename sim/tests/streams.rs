//! The stream family in the simulator: seeds that mix streams in deliver entries through
//! consumer groups (so the checker sees deliveries, acks and claims), and the planted bug
//! `xreadgroup-redelivers-new` is caught.

/// Among the fixed seeds, the ones that mix streams in read entries through groups, more than
/// once per group, which is what the model checks deliveries against.
#[test]
fn stream_seeds_deliver_entries_through_groups() {
    let (mut seeds, mut deliveries) = (0, 0);
    for seed in 0..300 {
        let config = sim::SimConfig::from_seed(seed);
        let streams = config.collections.as_ref().is_some_and(|m| {
            m.own_streams
                .iter()
                .any(|(f, _)| *f == sim::config::Family::Stream)
        });
        if !streams {
            continue;
        }
        seeds += 1;
        let history = sim::run_history(seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        deliveries += history
            .iter()
            .filter(|o| o.argv[0] == b"XREADGROUP")
            .filter(|o| {
                o.reply
                    .as_deref()
                    .is_some_and(|r| r.starts_with(b"*1\r\n*2\r\n"))
            })
            .count();
    }
    println!("{seeds} stream seeds, {deliveries} deliveries");
    assert!(seeds >= 30, "{seeds} of 300 seeds mix streams");
    assert!(deliveries >= 30, "{deliveries} deliveries");
}
