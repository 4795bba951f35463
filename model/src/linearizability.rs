//! A linearizability checker for concurrent histories of Redis commands, with `Model` as the
//! sequential specification.
//!
//! **Question.** Given operations with real-time intervals `[invoke, return]` and recorded
//! replies, is there one sequential order of them that (a) respects real time: an op that
//! returned before another was invoked comes first; (b) respects each client's program order
//! (a connection's requests run in the order sent, even when pipelined); and (c) when replayed
//! through the model, each at a time inside its own interval, produces every recorded reply?
//!
//! **Search (Wing & Gong).** Depth-first: from a state (set of ops already linearized, model
//! state, clock), any op that no unlinearized op must precede is a candidate to go next; apply
//! it, keep the branch if the reply matches, backtrack otherwise. Success once every op that
//! returned has been linearized. Ops that never returned (`return_us == None`) may be
//! linearized at any point after their invocation, or never: they may or may not have happened.
//!
//! **Memoisation (Lowe).** Two paths that linearize the same set of ops and reach the same model
//! state have the same futures, so each configuration is expanded once. We store the whole
//! state in the table (hashed with FNV), so the cache never confuses two states. The state is
//! put in a canonical form first (WATCH's modification counts reduced to clean/broken, which
//! is all EXEC can observe), and the table keeps the earliest clock each configuration was
//! reached at: reaching it again later can only allow less.
//!
//! **Pruning and order.** Placing an op after another unlinearized op returned kills the
//! branch, so it is not tried; an op that cannot change anything (a read, a SETNX that
//! replied 0) is placed as soon as it can be, without branching; identical lone ops (the
//! simulator's evictions of one key in one step) are linearized in index order (`twins`); and
//! the op that returns first is explored first. Each rule keeps every linearization the plain
//! search finds (the reasons are at `twins`, `Search::successors` and `Search::run`;
//! `CheckConfig::reduce` turns them off, and a test compares both searches' verdicts on
//! thousands of dense histories). Without them, many pipelined clients on one key (sim seed
//! 685) cost the search hundreds of thousands of steps, and a slow write among many reads more
//! than the budget; without twins, a shard evicting one key many times in one step between
//! pipelined writes (sim seed 5000503813: 14 times) cost more than 60M steps.
//!
//! **P-compositionality (Horn & Kroening).** Linearizability is local: a history is linearizable
//! iff its restriction to each independent part is. We partition ops by the `(db, key)` pairs
//! they touch (from the command table), joining keys with union-find whenever one op touches
//! several (MSET, RENAME, DEL a b, ...); commands that may touch any key (FLUSHDB, KEYS, SWAPDB,
//! DBSIZE, ...) join everything. Each partition is searched alone, which turns one search over
//! the whole interleaving into many small ones. (Locality is a theorem for the real-time order
//! alone. A pipelined client's program order also binds ops that overlap in time, which real
//! time leaves unordered: so a client's op sent before its previous one returned joins that
//! op's partition. Redis runs a pipeline in order, and no other client may see a later command
//! of it before an earlier one, even on other keys: a server that lets that happen is caught.)
//!
//! **Time.** An op's effect may depend on the time it takes effect (TTLs). The search keeps a
//! clock: the time of the last linearization point. An op is first tried at the earliest
//! instant it can take effect, `max(invoke, clock)`, and also at its return time when that gives
//! a different reply or state. Both points lie in the op's interval and never before the
//! previous op's point, so every accepted order is a real linearization (sound); intermediate
//! instants are not tried, which can only make the checker stricter than necessary, never laxer.
//! Times are Unix microseconds of the server's wall clock (the model's `now_ms` is `t / 1000`).
//!
//! **Budget.** Every model application is one step; past `steps_max` the answer is
//! `Violation::Unknown`, distinct from a proven violation.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use crate::commands::{leaves_state_alone, touched, Touch};
use crate::fnv::FnvBuild;
use crate::model::{ConnState, Model};
use crate::resp::Resp;

/// One operation of a concurrent history.
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    /// The connection that sent it; a client's ops are in program order by `invoke_us`.
    pub client: u32,
    /// When the request was sent (Unix µs).
    pub invoke_us: u64,
    /// When the reply arrived; `None` if it never did (timeout, crash): the op may or may not
    /// have taken effect.
    pub return_us: Option<u64>,
    pub argv: Vec<Vec<u8>>,
    /// The reply; `None` means "not recorded": the op must take effect but any reply is fine.
    pub reply: Option<Resp>,
}

/// Checker settings.
#[derive(Clone, Debug)]
pub struct CheckConfig {
    /// The state before the first op (its number of databases is the server's).
    pub initial: Model,
    /// Model applications allowed per partition before giving up with `Unknown`.
    pub steps_max: u64,
    /// Split the history by key (P-compositionality). Off only to measure its effect.
    pub partition: bool,
    /// Prune the search with the rules of `Search::successors` and `Search::run` (horizon,
    /// effect-free ops first, earliest-clock memo, canonical watch counts) and `twins`. Each keeps every
    /// linearization the search could find without it. Off only to measure their effect.
    pub reduce: bool,
    /// The server ran with a memory limit: an op whose reply never came may also have been
    /// refused for memory (`Model::refuse_for_memory`), which changes no data yet lets the
    /// client's later ops run. Without a limit no refusal is possible, and the check stays
    /// stricter.
    pub memory_refusals: bool,
}

impl Default for CheckConfig {
    fn default() -> Self {
        CheckConfig {
            initial: Model::default(),
            steps_max: 5_000_000,
            partition: true,
            reduce: true,
            memory_refusals: false,
        }
    }
}

/// Why a history was not accepted.
#[derive(Clone, Debug)]
pub enum Violation {
    /// No linearization exists for this partition of the history.
    NotLinearizable {
        /// The failing partition, in invocation order.
        ops: Vec<Op>,
        /// For each op of `ops`: was it in the longest linearizable prefix the search found?
        in_longest_prefix: Vec<bool>,
    },
    /// The step budget ran out before the search finished: neither proven nor refuted.
    Unknown { ops: Vec<Op>, steps: u64 },
}

/// Checks `history`; `Ok(())` if it is linearizable with respect to the model.
pub fn check(history: &[Op], config: &CheckConfig) -> Result<(), Violation> {
    check_with_stats(history, config).0
}

/// What a check cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Independent partitions the history was split into.
    pub partitions: usize,
    /// Ops in the largest partition.
    pub largest_partition: usize,
    /// Model applications, summed over the partitions searched.
    pub steps: u64,
}

/// `check`, also reporting the search's size. Stops at the first failing partition.
pub fn check_with_stats(history: &[Op], config: &CheckConfig) -> (Result<(), Violation>, Stats) {
    let prepared = prepare(history, config.initial.db_count());
    let parts = partitions(&prepared, config.partition);
    let mut stats = Stats {
        partitions: parts.len(),
        largest_partition: parts.iter().map(Vec::len).max().unwrap_or(0),
        steps: 0,
    };
    for part in parts {
        let ops: Vec<&Prepared> = part.iter().map(|&i| &prepared[i]).collect();
        let mut search = Search::new(&ops, config);
        let result = search.run();
        stats.steps += search.steps;
        if result.is_err() {
            return (result, stats);
        }
    }
    (Ok(()), stats)
}

/// An op with what the checker derives before searching.
#[derive(Clone, Debug)]
struct Prepared {
    op: Op,
    /// The client's connection state when the op was sent, as far as it is known without
    /// searching: the database (SELECT replayed per client) and the protocol. Used unless
    /// `chained`.
    conn: ConnState,
    /// The op continues a transaction (after WATCH or MULTI): its connection state, with the
    /// queue and the watches, is what the client's previous op left in the search node, and
    /// that op is in the same partition.
    chained: bool,
    /// The client queued a SELECT inside MULTI, so its database after EXEC depends on the
    /// search: every op of it is chained and may touch anything.
    dynamic: bool,
    /// The op changes nothing but its own connection, and its reply depends on nothing else:
    /// MULTI, and whatever is sent while queueing except EXEC, DISCARD and RESET (+QUEUED, or
    /// an error decided by the command's name and arity). See `Search::successors`.
    private: bool,
    /// Whatever the state, the op with its recorded reply changes nothing
    /// (`commands::leaves_state_alone`). See `Search::successors`.
    inert: bool,
    touch: Touch,
}

/// Orders ops by invocation and derives each op's connection state by replaying each client's
/// ops through a scratch model of its own. Data there is wrong (other clients are missing),
/// but what is derived does not depend on data: SELECT, and whether the connection is in a
/// transaction or watching (MULTI, WATCH, EXEC... change that whatever the keys hold).
fn prepare(history: &[Op], dbs: usize) -> Vec<Prepared> {
    let mut order: Vec<usize> = (0..history.len()).collect();
    order.sort_by_key(|&i| (history[i].invoke_us, i));
    let mut scratch: BTreeMap<u32, (Model, ConnState)> = BTreeMap::new();
    let mut dynamic: BTreeSet<u32> = BTreeSet::new();
    let mut prepared = Vec::with_capacity(history.len());
    for i in order {
        let op = &history[i];
        let (model, conn) = scratch
            .entry(op.client)
            .or_insert_with(|| (Model::new(dbs), ConnState::default()));
        let before = conn.clone();
        let is_select = op
            .argv
            .first()
            .is_some_and(|n| n.eq_ignore_ascii_case(b"select"));
        if is_select && before.in_multi() {
            dynamic.insert(op.client);
        }
        if !op.argv.is_empty() {
            model.apply_as_recorded(conn, &op.argv, op.invoke_us / 1000, op.reply.as_ref());
        }
        let name = op.argv.first().map(|n| n.to_ascii_lowercase());
        let is = |word: &str| name.as_deref() == Some(word.as_bytes());
        let private =
            is("multi") || (before.in_multi() && !(is("exec") || is("discard") || is("reset")));
        let inert = !before.in_multi() && leaves_state_alone(&op.argv, op.reply.as_ref());
        prepared.push(Prepared {
            inert,
            touch: touched(&before, &op.argv, dbs),
            chained: !before.is_idle(),
            dynamic: false,
            private,
            conn: before,
            op: op.clone(),
        });
    }
    let mut seen: BTreeSet<u32> = BTreeSet::new();
    for p in prepared
        .iter_mut()
        .filter(|p| dynamic.contains(&p.op.client))
    {
        p.dynamic = true;
        p.chained = !seen.insert(p.op.client);
        p.touch = Touch::Everything;
    }
    prepared
}

/// Groups op indices into independent partitions (union-find over shared keys). Ops that touch
/// nothing are alone; if any op may touch everything (or partitioning is off), every op that
/// touches state lands in one partition. A chained op joins its client's previous op, so a
/// transaction (WATCH .. MULTI .. EXEC) is one unit touching the union of its keys. A pipelined
/// op (sent before the client's last stateful op returned) joins that op, so program order
/// holds across keys; as replies come back in order, the earlier ops it overlaps were joined
/// to that one already.
fn partitions(ops: &[Prepared], enabled: bool) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..ops.len()).collect();
    let mut owner: BTreeMap<(usize, Vec<u8>), usize> = BTreeMap::new();
    let mut last_of_client: BTreeMap<u32, usize> = BTreeMap::new();
    let mut last_stateful_of_client: BTreeMap<u32, usize> = BTreeMap::new();
    let mut join_all = !enabled;
    for (i, p) in ops.iter().enumerate() {
        if let Some(prev) = last_of_client.insert(p.op.client, i) {
            if p.chained {
                union(&mut parent, i, prev);
            }
        }
        if p.touch != Touch::Nothing {
            if let Some(prev) = last_stateful_of_client.insert(p.op.client, i) {
                let overlaps = ops[prev]
                    .op
                    .return_us
                    .is_none_or(|ret| ret > p.op.invoke_us);
                if overlaps {
                    union(&mut parent, i, prev);
                }
            }
        }
        match &p.touch {
            Touch::Nothing => {}
            Touch::Everything => join_all = true,
            Touch::Keys(keys) => {
                for key in keys {
                    if let Some(&j) = owner.get(key) {
                        union(&mut parent, i, j);
                    }
                    owner.insert(key.clone(), i);
                }
            }
        }
    }
    if join_all {
        let stateful = (0..ops.len()).filter(|&i| ops[i].touch != Touch::Nothing);
        let mut anchor = None;
        for i in stateful {
            let a = *anchor.get_or_insert(i);
            union(&mut parent, i, a);
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..ops.len() {
        groups.entry(find(&mut parent, i)).or_default().push(i);
    }
    groups.into_values().collect()
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

fn union(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        parent[ra.max(rb)] = ra.min(rb);
    }
}

/// A fixed-size set of op indices.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Bitset(Vec<u64>);

impl Bitset {
    fn new(n: usize) -> Bitset {
        Bitset(vec![0; n.div_ceil(64)])
    }
    fn has(&self, i: usize) -> bool {
        self.0[i / 64] >> (i % 64) & 1 == 1
    }
    /// The smallest index not in the set (may be past the end).
    fn first_unset(&self) -> usize {
        let full = self.0.iter().take_while(|&&w| w == u64::MAX).count();
        full * 64 + self.0.get(full).map_or(0, |w| w.trailing_ones() as usize)
    }
    fn with(&self, i: usize) -> Bitset {
        let mut b = self.clone();
        b.0[i / 64] |= 1 << (i % 64);
        b
    }
    fn len(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }
}

/// A node of the search: a configuration and the time of the last linearization point.
#[derive(Clone, Debug)]
struct Node {
    config: Config,
    clock_us: u64,
}

/// Which ops are linearized and the state they led to: the memo table's key. The clock is
/// kept beside it, because a configuration reached earlier dominates the same one reached
/// later (see `Search::run`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Config {
    done: Bitset,
    /// How many ops of `done` returned (derived from `done`, kept to test completion in O(1)).
    completed_done: u32,
    /// With the watch counts in canonical form (`Model::canonicalize_watches`).
    model: Model,
    /// The connection state of each client in the middle of a transaction (see `chained`).
    conns: BTreeMap<u32, ConnState>,
}

struct Search<'a> {
    ops: &'a [&'a Prepared],
    /// Index (in `ops`) of the same client's previous op, which must be linearized first.
    prev_of_client: Vec<Option<usize>>,
    /// With `reduce`: the previous twin of a lone op (see `twins`), which must be linearized
    /// first.
    twin_before: Vec<Option<usize>>,
    completed: u32,
    initial: &'a Model,
    steps: u64,
    steps_max: u64,
    /// The reductions of `CheckConfig::reduce`.
    reduce: bool,
    /// See `CheckConfig::memory_refusals`.
    memory_refusals: bool,
}

impl<'a> Search<'a> {
    fn new(ops: &'a [&'a Prepared], config: &'a CheckConfig) -> Search<'a> {
        let mut last: BTreeMap<u32, usize> = BTreeMap::new();
        let prev_of_client = ops
            .iter()
            .enumerate()
            .map(|(i, p)| last.insert(p.op.client, i));
        let prev_of_client: Vec<Option<usize>> = prev_of_client.collect();
        let twin_before = if config.reduce {
            twins(ops, &prev_of_client)
        } else {
            vec![None; ops.len()]
        };
        let completed = ops.iter().filter(|p| p.op.return_us.is_some()).count() as u32;
        Search {
            ops,
            prev_of_client,
            twin_before,
            completed,
            initial: &config.initial,
            steps: 0,
            steps_max: config.steps_max,
            reduce: config.reduce,
            memory_refusals: config.memory_refusals,
        }
    }

    /// Depth-first search with an explicit stack and a table of configurations already seen.
    ///
    /// The table maps each configuration to the earliest clock it was reached at, and a node
    /// whose configuration was already reached at its clock or earlier is not expanded again:
    /// from the same configuration an earlier clock allows every placement a later one does
    /// (each op may take effect at any instant of its window not before the clock, and the
    /// instants tried at the later clock are tried, or matched by an instant with the same
    /// outcome, at the earlier one; see `successors`), so the later node can only succeed
    /// where the earlier one does. Without `reduce`, only equal clocks match, as in Lowe's
    /// original table.
    fn run(&mut self) -> Result<(), Violation> {
        let start = Node {
            config: Config {
                done: Bitset::new(self.ops.len()),
                completed_done: 0,
                model: self.initial.clone(),
                conns: BTreeMap::new(),
            },
            clock_us: 0,
        };
        let mut seen: HashMap<Config, Vec<u64>, FnvBuild> = HashMap::default();
        let mut best = start.config.done.clone();
        let mut stack = vec![start];
        while let Some(node) = stack.pop() {
            if self.is_complete(&node) {
                return Ok(());
            }
            if node.config.done.len() > best.len() {
                best = node.config.done.clone();
            }
            let children = self.successors(&node);
            if self.steps > self.steps_max {
                return Err(Violation::Unknown {
                    ops: self.plain_ops(),
                    steps: self.steps,
                });
            }
            for child in children {
                let clock = child.clock_us;
                match seen.get_mut(&child.config) {
                    Some(clocks) if self.reduce && clocks[0] <= clock => continue,
                    Some(clocks) if clocks.contains(&clock) => continue,
                    Some(clocks) if self.reduce => clocks[0] = clock,
                    Some(clocks) => clocks.push(clock),
                    None => {
                        seen.insert(child.config.clone(), vec![clock]);
                    }
                }
                stack.push(child);
            }
        }
        let in_longest_prefix = (0..self.ops.len()).map(|i| best.has(i)).collect();
        Err(Violation::NotLinearizable {
            ops: self.plain_ops(),
            in_longest_prefix,
        })
    }

    fn plain_ops(&self) -> Vec<Op> {
        self.ops.iter().map(|p| p.op.clone()).collect()
    }

    /// Every op that returned is linearized (pending ones may be left out).
    fn is_complete(&self, node: &Node) -> bool {
        node.config.completed_done == self.completed
    }

    /// Ops that may take effect next: not yet linearized, their client's previous op is, and
    /// no other unlinearized op returned before they were invoked. Also returns the earliest
    /// return among the unlinearized ops (`u64::MAX` if none returned).
    ///
    /// Ops are sorted by invocation, so we scan from the first unlinearized op and stop at the
    /// first op invoked after the earliest return seen so far: every later op is invoked later
    /// still, and that earliest return belongs to an unlinearized op that must precede it.
    fn candidates(&self, node: &Node) -> (Vec<usize>, u64) {
        let done = &node.config.done;
        let mut first_return = u64::MAX;
        let mut window = Vec::new();
        let start = done.first_unset();
        for i in (start..self.ops.len()).filter(|&i| !done.has(i)) {
            let op = &self.ops[i].op;
            if op.invoke_us > first_return {
                break;
            }
            first_return = first_return.min(op.return_us.unwrap_or(u64::MAX));
            window.push(i);
        }
        let ready = |&i: &usize| {
            self.ops[i].op.invoke_us <= first_return
                && self.prev_of_client[i].is_none_or(|p| done.has(p))
                && self.twin_before[i].is_none_or(|t| done.has(t))
        };
        (window.into_iter().filter(ready).collect(), first_return)
    }

    /// The configurations reachable by linearizing one more op, in candidate order.
    ///
    /// A private op that is a candidate is placed at once, alone, at the current clock: it
    /// commutes with every other client's op, so any linearization from here can be reordered
    /// to place it first (its own client's next op follows it anyway), and leaving the clock
    /// alone constrains no one (a point inside its interval, after its client's previous op and
    /// before its next, always exists). This keeps queued commands from multiplying the
    /// interleavings; its reply depends on nothing, so a mismatch ends the branch.
    ///
    /// With `reduce`, two more rules cut the tree without losing a linearization, and the
    /// candidates are tried most urgent first (earliest return; never-returned ops last), which
    /// only decides which branch is explored first:
    ///
    /// - **Horizon.** No op is placed after the earliest return among the unlinearized ops:
    ///   that op would then have to take effect after it returned, so the child is dead. (The
    ///   op that returns first may still take effect at its own return.) Without the rule
    ///   the search would expand such dead subtrees to exhaustion.
    /// - **Inert ops go first.** An op that changes nothing whatever the state, given its
    ///   recorded reply (a read; SETNX replying 0; see `commands::leaves_state_alone`), and
    ///   that can take effect at the current clock (invoked by then, not returned before) with
    ///   that reply, is placed there, alone. Any linearization from this node places it later
    ///   (where, its reply being the same, it changed nothing either) or, if it never
    ///   returned, not at all; taking it out of there and putting it here leaves every other
    ///   op's state and instant as they were, and the order constraints it imposes on others
    ///   (its client's next op, ops invoked after it returned) only get easier. So this child
    ///   succeeds whenever the node does, and reads no longer multiply the interleavings.
    ///   (Being inert at this state alone would not do: `SET k v` changes nothing where k
    ///   already holds v, but not where it goes in the linearization that needs it.)
    fn successors(&mut self, node: &Node) -> Vec<Node> {
        let (candidates, first_return) = self.candidates(node);
        if let Some(&i) = candidates.iter().find(|&&i| self.ops[i].private) {
            let attempt = self.attempt(node, i, node.clock_us, Outcome::AsRecorded);
            let refusal = self.refusal(node, i, node.clock_us);
            return [attempt]
                .into_iter()
                .chain(refusal)
                .filter(|a| a.accepted)
                .map(|a| a.node)
                .collect();
        }
        let horizon = if self.reduce { first_return } else { u64::MAX };
        if node.clock_us > horizon {
            return Vec::new();
        }
        // Attempts at the current clock, made while looking for an inert op, are reused below
        // rather than made again.
        let mut at_clock: Vec<(usize, Attempt)> = Vec::new();
        if self.reduce {
            for &i in &candidates {
                let op = &self.ops[i].op;
                let placeable_now = op.invoke_us <= node.clock_us
                    && op.return_us.is_none_or(|r| node.clock_us <= r);
                if !placeable_now || !self.ops[i].inert {
                    continue;
                }
                let attempt = self.attempt(node, i, node.clock_us, Outcome::AsRecorded);
                let effect_free = attempt.node.config.model == node.config.model
                    && attempt.node.config.conns == node.config.conns;
                if attempt.accepted && effect_free {
                    return vec![attempt.node];
                }
                at_clock.push((i, attempt));
            }
        }
        let mut candidates = candidates;
        if self.reduce {
            // The op that returns first constrains the rest most: a wrong guess about it is
            // found out soonest.
            candidates.sort_by_key(|&i| (self.ops[i].op.return_us.unwrap_or(u64::MAX), i));
        }
        let mut out = Vec::new();
        for i in candidates {
            let op = &self.ops[i].op;
            let early = op.invoke_us.max(node.clock_us);
            if op.return_us.is_some_and(|r| early > r) {
                continue; // it would have to take effect after it returned
            }
            let late = op.return_us.filter(|&r| r > early);
            // Between `early` and `late` an op's effect changes only where a key's deadline
            // passes, so those instants, earliest first, cover every distinct outcome; a later
            // time with the same outcome is dominated (the clock only moves forward).
            let mut tried: Vec<(Resp, Model)> = Vec::new();
            let named = self.queued_deadlines_us(node, i);
            for t in Self::instants(node, early, late, &named) {
                if t > horizon {
                    break; // instants are in increasing order
                }
                let reused = at_clock
                    .iter()
                    .position(|(j, _)| *j == i && t == node.clock_us);
                let attempt = match reused {
                    Some(k) => at_clock.swap_remove(k).1,
                    None => self.attempt(node, i, t, Outcome::AsRecorded),
                };
                let model = &attempt.node.config.model;
                if tried.iter().any(|(r, m)| *r == attempt.reply && m == model) {
                    continue;
                }
                tried.push((attempt.reply.clone(), model.clone()));
                if attempt.accepted {
                    out.push(attempt.node);
                }
            }
            // A refusal writes nothing, so its earliest instant allows the most.
            if let Some(refused) = self.refusal(node, i, early).filter(|a| a.accepted) {
                if early <= horizon {
                    out.push(refused.node);
                }
            }
        }
        out.reverse(); // the stack pops the last pushed: explore the first candidate first
        out
    }

    /// The instants worth trying for an op whose window is [early, late]: its start, every key
    /// deadline inside the window (of the keys as they are, and the `named` ones the op may
    /// set itself), and its end. An op that never returned (its client gave up) has no end: it
    /// may have run at any later deadline.
    fn instants(node: &Node, early: u64, late: Option<u64>, named: &[u64]) -> Vec<u64> {
        let mut times = vec![early];
        let model = &node.config.model;
        let mut deadlines: Vec<u64> = (0..model.db_count())
            .flat_map(|d| model.db(d).values().filter_map(|e| e.expire_at_ms))
            .map(|ms| ms.saturating_mul(1000))
            .chain(named.iter().copied())
            .filter(|&t| t > early && late.is_none_or(|late| t < late))
            .collect();
        deadlines.sort_unstable();
        deadlines.dedup();
        times.extend(deadlines);
        times.extend(late);
        times
    }

    /// For an EXEC: every number among its queued commands' arguments, read as an absolute
    /// time in ms and in s (as µs). A body can set a deadline and read the key after it
    /// (`SET k v PXAT d`, then `EXISTS k`): its reply then changes at `d`, which no key held
    /// before the EXEC. Relative TTLs cannot do that (time is frozen inside EXEC), and numbers
    /// that are no deadline only add instants that change nothing.
    fn queued_deadlines_us(&self, node: &Node, i: usize) -> Vec<u64> {
        let p = self.ops[i];
        let is_exec =
            p.op.argv
                .first()
                .is_some_and(|n| n.eq_ignore_ascii_case(b"exec"));
        let Some(conn) = node
            .config
            .conns
            .get(&p.op.client)
            .filter(|_| is_exec && p.chained)
        else {
            return Vec::new();
        };
        let numbers = conn.queued().iter().flat_map(|argv| argv.iter().skip(1));
        let numbers = numbers.filter_map(|arg| std::str::from_utf8(arg).ok()?.parse::<u64>().ok());
        numbers
            .flat_map(|n| [n.checked_mul(1_000), n.checked_mul(1_000_000)])
            .flatten()
            .collect()
    }

    /// Op `i` refused for memory at `t_us`, when that is a possible outcome of it: the server
    /// had a limit (`CheckConfig::memory_refusals`) and the op's reply is unknown (sim seed
    /// 844013148: a client's pipelined MSET refused, its GETDEL after it run, then the client
    /// gone before either reply came).
    fn refusal(&mut self, node: &Node, i: usize, t_us: u64) -> Option<Attempt> {
        let unknown = self.ops[i].op.reply.is_none();
        (self.memory_refusals && unknown).then(|| self.attempt(node, i, t_us, Outcome::Refused))
    }

    /// Applies op `i` to `node` at time `t_us`, with the recorded outcome or refused.
    fn attempt(&mut self, node: &Node, i: usize, t_us: u64, outcome: Outcome) -> Attempt {
        self.steps += 1;
        let p = self.ops[i];
        let client = p.op.client;
        let mut model = node.config.model.clone();
        let mut conns = node.config.conns.clone();
        let mut conn = if p.chained {
            conns.remove(&client).unwrap_or_else(|| {
                panic!(
                    "client {client}'s transaction state is missing before {:?}",
                    p.op
                )
            })
        } else {
            p.conn.clone()
        };
        let is_exec =
            p.op.argv
                .first()
                .is_some_and(|n| n.eq_ignore_ascii_case(b"exec"));
        let queued = if is_exec {
            conn.queued().to_vec()
        } else {
            Vec::new()
        };
        let now_ms = t_us / 1000;
        let (reply, accepted) = match outcome {
            Outcome::AsRecorded => {
                let recorded = p.op.reply.as_ref();
                let reply = model.apply_as_recorded(&mut conn, &p.op.argv, now_ms, recorded);
                let accepted =
                    recorded.is_none_or(|want| replies_match(&p.op.argv, &queued, &reply, want));
                (reply, accepted)
            }
            Outcome::Refused => {
                let oom = Resp::err(crate::multi::OOM);
                let reply = model.apply_as_recorded(&mut conn, &p.op.argv, now_ms, Some(&oom));
                let accepted = crate::multi::is_memory_refusal(&reply);
                (reply, accepted)
            }
        };
        if p.dynamic || !conn.is_idle() {
            conns.insert(client, conn);
        }
        if self.reduce {
            // Every watching connection is in `conns` (a watching client is never idle).
            let canonical = model.canonicalize_watches(conns.values_mut());
            debug_assert!(
                canonical,
                "a watch registered by no connection in the search"
            );
        }
        let completed_done = node.config.completed_done + u32::from(p.op.return_us.is_some());
        let node = Node {
            config: Config {
                done: node.config.done.with(i),
                completed_done,
                model,
                conns,
            },
            clock_us: t_us,
        };
        Attempt {
            reply,
            node,
            accepted,
        }
    }
}

/// For each op, the previous of its twins, if any. Twins are lone ops (the only op of their
/// client in the partition, like the simulator's evictions) that are the same request in every
/// respect but the client: command, reply, interval and connection state.
///
/// Twins are interchangeable: in any linearization, giving the places taken by twins to them
/// in index order (and, among twins that never returned, leaving out the last ones rather than
/// others) changes no command, instant or reply at any place, and no order constraint (a lone
/// op has no program order, and twins share their interval). So the search may require each
/// twin to follow the previous one: it loses no linearization, and k twins at one instant
/// (a shard evicting one key k times in one step, between writes) are k+1 configurations
/// instead of 2^k.
fn twins(ops: &[&Prepared], prev_of_client: &[Option<usize>]) -> Vec<Option<usize>> {
    let mut has_next = vec![false; ops.len()];
    for p in prev_of_client.iter().flatten() {
        has_next[*p] = true;
    }
    let lone = |i: usize| prev_of_client[i].is_none() && !has_next[i];
    let same = |a: &Prepared, b: &Prepared| {
        (a.op.invoke_us, a.op.return_us) == (b.op.invoke_us, b.op.return_us)
            && a.op.argv == b.op.argv
            && a.op.reply == b.op.reply
            && a.conn == b.conn
            && (a.chained, a.dynamic) == (b.chained, b.dynamic)
    };
    // The last twin seen of each class, by interval and command; classes are few and small.
    type Class<'a> = (u64, Option<u64>, &'a [Vec<u8>]);
    let mut last_of_class: HashMap<Class, Vec<usize>, FnvBuild> = HashMap::default();
    let mut twin_before = vec![None; ops.len()];
    for i in (0..ops.len()).filter(|&i| lone(i)) {
        let op = &ops[i].op;
        let key = (op.invoke_us, op.return_us, op.argv.as_slice());
        let seen = last_of_class.entry(key).or_default();
        if let Some(slot) = seen.iter_mut().find(|j| same(ops[**j], ops[i])) {
            twin_before[i] = Some(*slot);
            *slot = i;
        } else {
            seen.push(i);
        }
    }
    twin_before
}

/// How an op is applied in an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// With its recorded reply (any reply, when none was recorded).
    AsRecorded,
    /// Refused for memory (only tried where the reply is unknown: see `Search::refusal`).
    Refused,
}

/// The result of applying one op at one instant.
struct Attempt {
    reply: Resp,
    node: Node,
    accepted: bool,
}

/// Model reply vs recorded reply. KEYS and the set family's member lists are multisets
/// (Redis's order is unspecified, `commands::unordered_reply`); an
/// EXEC's replies are compared one by one, each as the reply of its queued command.
fn replies_match(argv: &[Vec<u8>], queued: &[Vec<Vec<u8>>], model: &Resp, recorded: &Resp) -> bool {
    let is = |name: &[u8]| argv.first().is_some_and(|n| n.eq_ignore_ascii_case(name));
    match (model, recorded) {
        (Resp::Array(a), Resp::Array(b)) if is(b"exec") => {
            a.len() == b.len()
                && a.len() == queued.len()
                && (queued.iter().zip(a.iter().zip(b)))
                    .all(|(argv, (a, b))| replies_match(argv, &[], a, b))
        }
        // A RESP2 client records a set reply as an array.
        (Resp::Array(a) | Resp::Set(a), Resp::Array(b) | Resp::Set(b))
            if crate::commands::unordered_reply(argv) =>
        {
            let sorted = |v: &[Resp]| {
                let mut bytes: Vec<Vec<u8>> = v.iter().map(Resp::to_resp2_bytes).collect();
                bytes.sort();
                bytes
            };
            sorted(a) == sorted(b)
        }
        _ if is(b"hgetall") && sorted_pairs(model).is_some() => {
            sorted_pairs(model) == sorted_pairs(recorded)
        }
        // A RESP2 client records a map (HGETALL) as a flat array: compare on the wire.
        _ => model == recorded || model.to_resp2_bytes() == recorded.to_resp2_bytes(),
    }
}

/// HGETALL's field/value pairs (a map, or RESP2's flat array) in sorted order: a hashtable
/// lists them in table order, which the model does not claim. `None` for any other reply.
fn sorted_pairs(reply: &Resp) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = match reply {
        Resp::Map(entries) => entries
            .iter()
            .map(|(f, v)| (f.to_resp2_bytes(), v.to_resp2_bytes()))
            .collect(),
        Resp::Array(flat) if flat.len() % 2 == 0 => flat
            .chunks(2)
            .map(|pair| (pair[0].to_resp2_bytes(), pair[1].to_resp2_bytes()))
            .collect(),
        _ => return None,
    };
    pairs.sort();
    Some(pairs)
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (ops, marks) = match self {
            Violation::NotLinearizable {
                ops,
                in_longest_prefix,
            } => {
                writeln!(
                    f,
                    "not linearizable: no order of these {} ops explains the replies",
                    ops.len()
                )?;
                writeln!(
                    f,
                    "(+ = in the longest linearizable prefix found, ! = never placed)"
                )?;
                (ops, Some(in_longest_prefix))
            }
            Violation::Unknown { ops, steps } => {
                writeln!(
                    f,
                    "unknown: search budget exhausted after {steps} steps on {} ops",
                    ops.len()
                )?;
                (ops, None)
            }
        };
        let base = ops.iter().map(|o| o.invoke_us).min().unwrap_or(0);
        for (i, op) in ops.iter().enumerate() {
            let mark = marks.map_or(' ', |m| if m[i] { '+' } else { '!' });
            let ret = op
                .return_us
                .map_or("pending".to_string(), |r| format!("{}", r - base));
            let argv: Vec<String> = op
                .argv
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let reply = op.reply.as_ref().map_or("?".to_string(), show_reply);
            writeln!(
                f,
                "{mark} client {:>3} [{:>8} .. {:>8}] {} -> {}",
                op.client,
                op.invoke_us - base,
                ret,
                argv.join(" "),
                reply
            )?;
        }
        Ok(())
    }
}

/// A one-line rendering of a reply for humans.
fn show_reply(r: &Resp) -> String {
    let list = |items: &[Resp]| items.iter().map(show_reply).collect::<Vec<_>>().join(", ");
    match r {
        Resp::Simple(s) => format!("+{s}"),
        Resp::Error(e) => format!("-{e}"),
        Resp::Int(n) => format!(":{n}"),
        Resp::Bulk(b) => format!("{:?}", String::from_utf8_lossy(b)),
        Resp::Nil | Resp::NilArray => "(nil)".to_string(),
        Resp::Array(items) => format!("[{}]", list(items)),
        Resp::Set(items) => format!("{{{}}}", list(items)),
        Resp::Map(pairs) => {
            let kv: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{} => {}", show_reply(k), show_reply(v)))
                .collect();
            format!("{{{}}}", kv.join(", "))
        }
        Resp::Double(d) => format!(",{}", crate::resp::format_g17(*d)),
        Resp::Bool(b) => format!("#{b}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A realistic Unix time in µs, so TTL arithmetic sees wall-clock-like values.
    const T0_US: u64 = 1_700_000_000_000_000;

    fn op(client: u32, invoke: u64, ret: Option<u64>, cmd: &str, reply: Resp) -> Op {
        Op {
            client,
            invoke_us: T0_US + invoke,
            return_us: ret.map(|r| T0_US + r),
            argv: cmd.split(' ').map(|a| a.as_bytes().to_vec()).collect(),
            reply: Some(reply),
        }
    }

    fn bulk(s: &str) -> Resp {
        Resp::bulk(s)
    }

    fn accepts(history: &[Op]) -> bool {
        check(history, &CheckConfig::default()).is_ok()
    }

    /// Regression (sim seed 9): the only legal clock for an op lies strictly inside its window,
    /// at a key's deadline; trying just its invoke and return times rejected a legal history.
    #[test]
    fn accepts_an_op_whose_only_legal_time_is_a_deadline_inside_its_window() {
        let deadline_ms = (T0_US + 5_000) / 1000;
        let past_ms = T0_US / 1000 - 10;
        let history = [
            op(1, 0, Some(1_000), "SET x v", Resp::ok()),
            op(
                1,
                1_000,
                Some(2_000),
                &format!("PEXPIREAT x {deadline_ms}"),
                Resp::Int(1),
            ),
            op(
                2,
                2_000,
                Some(100_000),
                &format!("PEXPIREAT x {past_ms}"),
                Resp::Int(0),
            ),
            op(3, 2_000, Some(50_000), "SET x w", Resp::ok()),
            op(1, 60_000, Some(70_000), "GET x", bulk("w")),
        ];
        assert!(accepts(&history));
    }

    /// Regression (sim seed 90742): a command whose client disconnected before the reply ran
    /// later, after a key's deadline passed; trying only its invocation time rejected it.
    #[test]
    fn accepts_a_pending_op_that_ran_after_a_deadline() {
        let deadline_ms = (T0_US + 5_000) / 1000;
        let history = [
            op(
                1,
                0,
                Some(1_000),
                &format!("SET x old PXAT {deadline_ms}"),
                Resp::ok(),
            ),
            Op {
                reply: None, // the client left before the reply
                ..op(2, 2_000, None, "SETNX x new", Resp::Int(1))
            },
            op(1, 10_000, Some(11_000), "GET x", bulk("new")),
        ];
        assert!(accepts(&history));
    }

    fn rejects(history: &[Op]) -> Violation {
        match check(history, &CheckConfig::default()) {
            Err(v @ Violation::NotLinearizable { .. }) => v,
            other => panic!("expected a violation, got {other:?}"),
        }
    }

    #[test]
    fn accepts_concurrent_read_seeing_either_value() {
        for seen in [Resp::Nil, bulk("1")] {
            let h = [
                op(1, 0, Some(10), "SET x 1", Resp::ok()),
                op(2, 5, Some(15), "GET x", seen),
            ];
            assert!(accepts(&h));
        }
    }

    #[test]
    fn accepts_concurrent_increments_in_either_order() {
        let h = [
            op(1, 0, Some(100), "INCR x", Resp::Int(2)),
            op(2, 10, Some(50), "INCR x", Resp::Int(1)),
            op(3, 60, Some(200), "GET x", bulk("2")),
        ];
        assert!(accepts(&h));
    }

    #[test]
    fn rejects_stale_read() {
        let h = [
            op(1, 0, Some(10), "SET x 1", Resp::ok()),
            op(2, 20, Some(30), "GET x", Resp::Nil),
        ];
        let v = rejects(&h);
        assert!(v.to_string().contains("GET x -> (nil)"), "{v}");
    }

    #[test]
    fn rejects_lost_write() {
        let h = [
            op(1, 0, Some(10), "INCR x", Resp::Int(1)),
            op(2, 20, Some(30), "INCR x", Resp::Int(1)),
        ];
        rejects(&h);
    }

    #[test]
    fn rejects_torn_multi_key_read() {
        let torn = [
            Resp::Array(vec![bulk("1"), bulk("0")]),
            Resp::Array(vec![bulk("1"), Resp::Nil]),
        ];
        for reply in torn {
            let h = [
                op(1, 0, Some(10), "MSET a 0 b 0", Resp::ok()),
                op(1, 20, Some(40), "MSET a 1 b 1", Resp::ok()),
                op(2, 25, Some(35), "MGET a b", reply),
            ];
            rejects(&h);
        }
        // The same read seeing all-old or all-new is fine.
        for whole in ["0", "1"] {
            let h = [
                op(1, 0, Some(10), "MSET a 0 b 0", Resp::ok()),
                op(1, 20, Some(40), "MSET a 1 b 1", Resp::ok()),
                op(
                    2,
                    25,
                    Some(35),
                    "MGET a b",
                    Resp::Array(vec![bulk(whole), bulk(whole)]),
                ),
            ];
            assert!(accepts(&h));
        }
    }

    #[test]
    fn rejects_impossible_reply() {
        let h = [
            op(1, 0, Some(10), "SET x 1", Resp::ok()),
            op(2, 0, Some(10), "GET x", bulk("banana")),
        ];
        rejects(&h);
        let h = [op(1, 0, Some(10), "GET", Resp::ok())];
        rejects(&h);
    }

    #[test]
    fn pending_ops_may_or_may_not_take_effect() {
        let pending = Op {
            return_us: None,
            ..op(1, 0, None, "SET x 1", Resp::ok())
        };
        for seen in [Resp::Nil, bulk("1")] {
            let h = [pending.clone(), op(2, 50, Some(60), "GET x", seen)];
            assert!(accepts(&h));
        }
        // But it cannot take effect before it was sent.
        let late = Op {
            invoke_us: T0_US + 100,
            ..pending
        };
        rejects(&[late, op(2, 50, Some(60), "GET x", bulk("1"))]);
    }

    #[test]
    fn a_pending_write_may_have_been_refused_for_memory_under_a_limit() {
        // Sim seed 844013148: a client pipelined MSET then GETDEL and went away; the server
        // refused the MSET (over its limit) and ran the GETDEL.
        let gone = |invoke_us, text| Op {
            return_us: None,
            reply: None,
            ..op(1, invoke_us, None, text, Resp::ok())
        };
        let h = [
            op(2, 0, Some(10), "SET b 1", Resp::ok()),
            gone(20, "MSET a 1"),
            gone(21, "GETDEL b"),
            op(
                2,
                100,
                Some(110),
                "MGET a b",
                array(&[Resp::Nil, Resp::Nil]),
            ),
        ];
        rejects(&h);
        let limited = CheckConfig {
            memory_refusals: true,
            ..CheckConfig::default()
        };
        assert!(check(&h, &limited).is_ok());
        // GETDEL is never refused for memory: the client's SET after it cannot have run
        // without it.
        let h = [
            op(2, 0, Some(10), "SET b 1", Resp::ok()),
            gone(20, "GETDEL b"),
            gone(21, "SET a 1"),
            op(
                2,
                100,
                Some(110),
                "MGET a b",
                array(&[bulk("1"), bulk("1")]),
            ),
        ];
        assert!(check(&h, &limited).is_err());
    }

    #[test]
    fn ttl_windows_accept_both_outcomes_only_while_straddling() {
        let set = op(1, 0, Some(1_000), "SET x v PX 1000", Resp::ok());
        // Read during [1000 ms, 2000 ms] after invocation: either side of the deadline.
        for seen in [Resp::Nil, bulk("v")] {
            let h = [
                set.clone(),
                op(2, 1_000_500, Some(1_000_600), "GET x", seen),
            ];
            assert!(accepts(&h), "straddling read");
        }
        let h = [
            set.clone(),
            op(2, 2_500_000, Some(2_500_100), "GET x", bulk("v")),
        ];
        rejects(&h);
        let h = [set, op(2, 100_000, Some(100_100), "GET x", Resp::Nil)];
        rejects(&h);
    }

    #[test]
    fn partitions_report_only_the_failing_key() {
        let h = [
            op(1, 0, Some(10), "SET x 1", Resp::ok()),
            op(2, 0, Some(10), "SET y 1", Resp::ok()),
            op(3, 20, Some(30), "GET y", bulk("1")),
            op(4, 20, Some(30), "GET x", bulk("2")),
        ];
        let Violation::NotLinearizable { ops, .. } = rejects(&h) else {
            unreachable!()
        };
        assert_eq!(ops.len(), 2);
        assert!(ops.iter().all(|o| o.argv[1] == b"x"));
    }

    #[test]
    fn multi_key_ops_join_partitions() {
        // RENAME links x and y: the GET y is only explained by the RENAME.
        let h = [
            op(1, 0, Some(10), "SET x 1", Resp::ok()),
            op(1, 20, Some(30), "RENAME x y", Resp::ok()),
            op(2, 40, Some(50), "GET y", bulk("1")),
            op(2, 60, Some(70), "EXISTS x", Resp::Int(0)),
        ];
        assert!(accepts(&h));
        let prepared = prepare(&h, 16);
        assert_eq!(partitions(&prepared, true).len(), 1);
    }

    #[test]
    fn select_is_tracked_per_client() {
        let h = [
            op(1, 0, Some(10), "SELECT 1", Resp::ok()),
            op(1, 20, Some(30), "SET x 1", Resp::ok()),
            op(2, 40, Some(50), "GET x", Resp::Nil),
            op(2, 60, Some(70), "SELECT 1", Resp::ok()),
            op(2, 80, Some(90), "GET x", bulk("1")),
        ];
        assert!(accepts(&h));
    }

    #[test]
    fn pipelined_client_keeps_program_order() {
        // Client 1 pipelines SET then GET: the GET must see its own SET.
        let h = [
            op(1, 0, Some(50), "SET x 1", Resp::ok()),
            op(1, 1, Some(51), "GET x", Resp::Nil),
        ];
        rejects(&h);
    }

    /// Client 1 pipelines SET a then SET b; client 2 sees b's write, then not a's. Each key
    /// alone is linearizable; program order across them is not.
    #[test]
    fn pipelined_client_keeps_program_order_across_keys() {
        let h = [
            op(1, 0, Some(100), "SET a 1", Resp::ok()),
            op(1, 1, Some(101), "SET b 1", Resp::ok()),
            op(2, 10, Some(20), "GET b", bulk("1")),
            op(2, 30, Some(40), "GET a", Resp::Nil),
        ];
        rejects(&h);
        // Sent one after the other (not pipelined), the two SETs are separate parts, and the
        // same replies are fine as long as real time allows the order b, a.
        let h = [
            op(1, 0, Some(100), "SET b 1", Resp::ok()),
            op(1, 101, Some(200), "SET a 1", Resp::ok()),
            op(2, 10, Some(20), "GET b", bulk("1")),
            op(2, 30, Some(40), "GET a", Resp::Nil),
        ];
        assert!(accepts(&h));
        assert_eq!(partitions(&prepare(&h, 16), true).len(), 2);
    }

    #[test]
    fn flushdb_joins_everything() {
        let h = [
            op(1, 0, Some(10), "SET x 1", Resp::ok()),
            op(2, 0, Some(10), "SET y 1", Resp::ok()),
            op(3, 20, Some(30), "FLUSHDB", Resp::ok()),
            op(4, 40, Some(50), "DBSIZE", Resp::Int(0)),
            op(4, 60, Some(70), "PING", Resp::Simple("PONG".into())),
        ];
        assert!(accepts(&h));
        assert_eq!(partitions(&prepare(&h, 16), true).len(), 2);
    }

    fn queued() -> Resp {
        Resp::Simple("QUEUED".into())
    }

    fn array(items: &[Resp]) -> Resp {
        Resp::Array(items.to_vec())
    }

    /// Client 1 runs MULTI; SET a 1; SET b 1; EXEC over [0, 100] µs, pipelined.
    fn transaction_setting_a_and_b() -> Vec<Op> {
        vec![
            op(1, 0, Some(100), "MULTI", Resp::ok()),
            op(1, 1, Some(100), "SET a 1", queued()),
            op(1, 2, Some(100), "SET b 1", queued()),
            op(1, 3, Some(100), "EXEC", array(&[Resp::ok(), Resp::ok()])),
        ]
    }

    #[test]
    fn accepts_a_transaction_interleaved_with_other_clients() {
        for (a, b) in [(Resp::Nil, Resp::Nil), (bulk("1"), bulk("1"))] {
            let mut h = transaction_setting_a_and_b();
            h.push(op(2, 10, Some(90), "MGET a b", array(&[a, b])));
            h.push(op(3, 20, Some(30), "SET c 1", Resp::ok()));
            assert!(accepts(&h));
        }
    }

    #[test]
    fn rejects_a_torn_exec() {
        let mut h = transaction_setting_a_and_b();
        h.push(op(
            2,
            10,
            Some(90),
            "MGET a b",
            array(&[bulk("1"), Resp::Nil]),
        ));
        rejects(&h);
        // Two reads by one client: the first sees the transaction's write, the second does not.
        let mut h = transaction_setting_a_and_b();
        h.push(op(2, 10, Some(20), "GET b", bulk("1")));
        h.push(op(2, 30, Some(40), "GET a", Resp::Nil));
        rejects(&h);
    }

    #[test]
    fn queued_commands_do_not_touch_the_data() {
        let h = [
            op(1, 0, Some(10), "MULTI", Resp::ok()),
            op(1, 20, Some(30), "SET a 1", queued()),
            op(2, 40, Some(50), "GET a", bulk("1")),
            op(1, 60, Some(70), "EXEC", array(&[Resp::ok()])),
        ];
        rejects(&h);
        let h = [
            op(1, 0, Some(10), "MULTI", Resp::ok()),
            op(1, 20, Some(30), "SET a 1", Resp::ok()),
        ];
        rejects(&h);
    }

    #[test]
    fn rejects_an_exec_that_ignored_a_completed_write_to_a_watched_key() {
        let h = [
            op(1, 0, Some(10), "WATCH a", Resp::ok()),
            op(2, 20, Some(30), "SET a 2", Resp::ok()),
            op(1, 40, Some(50), "MULTI", Resp::ok()),
            op(1, 60, Some(70), "SET b 1", queued()),
            op(1, 80, Some(90), "EXEC", array(&[Resp::ok()])),
        ];
        rejects(&h);
        // The same EXEC failing is the only explanation.
        let mut h = h.to_vec();
        h[4].reply = Some(Resp::NilArray);
        assert!(accepts(&h));
    }

    #[test]
    fn accepts_either_exec_outcome_when_the_write_is_concurrent() {
        for reply in [Resp::NilArray, array(&[Resp::ok()])] {
            let h = [
                op(1, 0, Some(10), "WATCH a", Resp::ok()),
                op(1, 20, Some(30), "MULTI", Resp::ok()),
                op(1, 40, Some(50), "SET b 1", queued()),
                op(2, 45, Some(100), "SET a 2", Resp::ok()),
                op(1, 60, Some(70), "EXEC", reply.clone()),
                op(
                    3,
                    200,
                    Some(210),
                    "GET b",
                    if reply == Resp::NilArray {
                        Resp::Nil
                    } else {
                        bulk("1")
                    },
                ),
            ];
            assert!(accepts(&h), "EXEC -> {reply:?}");
        }
    }

    #[test]
    fn a_watch_breaks_when_its_live_key_expires_before_exec() {
        let deadline_ms = (T0_US + 1_000) / 1000;
        let h = [
            op(
                2,
                0,
                Some(10),
                &format!("SET a v PXAT {deadline_ms}"),
                Resp::ok(),
            ),
            op(1, 20, Some(30), "WATCH a", Resp::ok()),
            op(1, 40, Some(50), "MULTI", Resp::ok()),
            op(1, 2_000, Some(2_010), "EXEC", array(&[])),
        ];
        rejects(&h);
    }

    /// Regression (sim seed 8422 with transactions): an EXEC set a deadline inside its own
    /// window and read the key after it; only an instant past that deadline, which no key held
    /// before, explains both its reply and a later op that had to follow it.
    #[test]
    fn accepts_an_exec_whose_only_legal_time_is_a_deadline_it_sets() {
        let deadline_ms = (T0_US + 5_000) / 1000;
        let h = [
            op(1, 0, Some(10), "SET k 1", Resp::ok()),
            op(1, 20, Some(30), "MULTI", Resp::ok()),
            op(
                1,
                40,
                Some(50),
                &format!("SET k 2 PXAT {deadline_ms}"),
                queued(),
            ),
            op(1, 60, Some(70), "EXISTS k", queued()),
            op(
                1,
                80,
                Some(20_000),
                "EXEC",
                array(&[Resp::ok(), Resp::Int(0)]),
            ),
            // Must follow the EXEC (the key is gone) and return before its end.
            op(2, 100, Some(6_000), "SETNX k 3", Resp::Int(1)),
        ];
        assert!(accepts(&h));
    }

    #[test]
    fn a_transaction_is_one_unit_for_partitioning() {
        let mut h = transaction_setting_a_and_b();
        h.push(op(2, 200, Some(210), "GET a", bulk("1")));
        h.push(op(3, 200, Some(210), "GET b", bulk("1")));
        h.push(op(4, 200, Some(210), "GET c", Resp::Nil));
        h.push(op(5, 0, Some(10), "WATCH c", Resp::ok()));
        h.push(op(5, 20, Some(30), "UNWATCH", Resp::ok()));
        h.push(op(5, 40, Some(50), "GET d", Resp::Nil));
        let parts = partitions(&prepare(&h, 16), true);
        let sizes: Vec<usize> = parts.iter().map(Vec::len).collect();
        // {MULTI SET SET EXEC GET a GET b}, {WATCH c UNWATCH GET c}, {GET d}
        assert_eq!(sizes, [6, 3, 1], "{parts:?}");
        assert!(accepts(&h));
    }

    #[test]
    fn a_select_queued_in_multi_is_followed_through_the_search() {
        let h = [
            op(1, 0, Some(10), "MULTI", Resp::ok()),
            op(1, 20, Some(30), "SELECT 1", queued()),
            op(1, 40, Some(50), "EXEC", array(&[Resp::ok()])),
            op(1, 60, Some(70), "SET a 1", Resp::ok()),
            op(2, 80, Some(90), "GET a", Resp::Nil),
            op(2, 100, Some(110), "SELECT 1", Resp::ok()),
            op(2, 120, Some(130), "GET a", bulk("1")),
        ];
        assert!(accepts(&h));
        let mut wrong = h.to_vec();
        wrong[4].reply = Some(bulk("1"));
        rejects(&wrong);
    }

    #[test]
    fn a_pending_exec_may_or_may_not_have_run() {
        for seen in [Resp::Nil, bulk("1")] {
            let mut h = transaction_setting_a_and_b();
            h[3].return_us = None;
            h[3].reply = None;
            h.push(op(
                2,
                500,
                Some(510),
                "MGET a b",
                array(&[seen.clone(), seen]),
            ));
            assert!(accepts(&h));
        }
    }

    #[test]
    fn budget_exhaustion_is_unknown_not_violation() {
        let h: Vec<Op> = (0..12)
            .map(|c| op(c, 0, Some(1000), "INCR x", Resp::Int(i64::from(c) + 1)))
            .chain([op(99, 2000, Some(2001), "GET x", bulk("nope"))])
            .collect();
        let config = CheckConfig {
            steps_max: 50,
            ..CheckConfig::default()
        };
        match check(&h, &config) {
            Err(Violation::Unknown { steps, .. }) => assert!(steps > 50),
            other => panic!("expected Unknown, got {other:?}"),
        }
        assert!(matches!(
            check(&h, &CheckConfig::default()),
            Err(Violation::NotLinearizable { .. })
        ));
    }
}
