//! The rules' search caches, one set per thread, kept under a memory budget.
//!
//! A rule's automaton is searched through a cache (the lazy DFA's states, built as
//! the search goes), and each thread that runs the rule needs its own. Left to the
//! regex's internal pool, every thread kept one per rule it ever ran for the whole
//! scan: hundreds of caches per thread, most of them used for a few files, together
//! the largest part of a scan's peak memory. Here each thread holds its caches
//! itself and, past the budget, drops those it used least recently; a dropped cache
//! is rebuilt on the rule's next use, which costs a little time, never a match.

use regex_automata::meta;
use std::cell::RefCell;

/// Bytes of caches one thread may keep between files. A megabyte and three quarters:
/// each half megabyte more saves up to 3% of a scan's time and costs three quarters of
/// a megabyte of its peak memory (ragflow, two threads), which is held under 64 MB;
/// the rules of stop 25 took two megabytes' peak to 63.8 MiB.
const BUDGET: usize = 7 << 18;

/// One thread's caches, for one rule set.
pub(crate) struct SearchCaches {
    /// The rule set the slots belong to (see [`with_caches`]).
    set: u64,
    /// Per rule of the set. Boxed: a cache is about a kilobyte even before its first
    /// search, and most rules never run on a thread.
    slots: Vec<Option<Box<Slot>>>,
    /// Counts files: when each slot was last used.
    clock: u64,
    /// The slots' bytes when last measured.
    bytes: usize,
    /// Rules used in the current file, to measure once it is done.
    used: Vec<usize>,
}

struct Slot {
    cache: meta::Cache,
    last_used: u64,
    bytes: usize,
}

thread_local! {
    static CACHES: RefCell<SearchCaches> = const {
        RefCell::new(SearchCaches {
            set: 0,
            slots: Vec::new(),
            clock: 0,
            bytes: 0,
            used: Vec::new(),
        })
    };
}

/// Runs `f` with this thread's caches for rule set `set` (an id no other live set
/// shares) of `rules` rules; caches of another set are dropped first. Afterwards the
/// caches `f` used are measured and the least recently used dropped past the budget.
pub(crate) fn with_caches<R>(set: u64, rules: usize, f: impl FnOnce(&mut SearchCaches) -> R) -> R {
    CACHES.with(|cell| {
        let mut caches = cell.borrow_mut();
        if caches.set != set || caches.slots.len() != rules {
            caches.set = set;
            caches.slots.clear();
            caches.slots.resize_with(rules, || None);
            caches.bytes = 0;
            caches.used.clear();
        }
        caches.clock += 1;
        let out = f(&mut caches);
        caches.settle(BUDGET);
        out
    })
}

impl SearchCaches {
    /// Rule `rule`'s cache for `regex` (its automaton), made on first use.
    pub(crate) fn get(&mut self, rule: usize, regex: &meta::Regex) -> &mut meta::Cache {
        let clock = self.clock;
        let slot = self.slots[rule].get_or_insert_with(|| {
            Box::new(Slot {
                cache: regex.create_cache(),
                last_used: clock,
                bytes: 0,
            })
        });
        slot.last_used = clock;
        self.used.push(rule);
        &mut slot.cache
    }

    /// Measures the caches used since the last call, then drops the least recently
    /// used ones while the total is over `budget`.
    fn settle(&mut self, budget: usize) {
        let mut used = std::mem::take(&mut self.used);
        used.sort_unstable();
        used.dedup();
        for rule in used {
            if let Some(slot) = &mut self.slots[rule] {
                let now = slot.cache.memory_usage();
                self.bytes = self.bytes - slot.bytes + now;
                slot.bytes = now;
            }
        }
        if self.bytes <= budget {
            return;
        }
        let mut by_age: Vec<(u64, usize)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (s.last_used, i)))
            .collect();
        by_age.sort_unstable();
        // Down to three quarters, so the next file does not start another round.
        for (_, rule) in by_age {
            if self.bytes <= budget / 4 * 3 {
                break;
            }
            if let Some(slot) = self.slots[rule].take() {
                self.bytes -= slot.bytes;
            }
        }
    }

    /// Bytes held by the caches, as last measured.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex_automata::Input;

    #[test]
    fn caches_past_the_budget_are_dropped_least_recently_used_first() {
        let regexes: Vec<meta::Regex> = (0..6)
            .map(|i| {
                meta::Regex::new(&format!(r"[a-z]{{2,40}}{i}[0-9a-f]{{8,30}}")).expect("regex")
            })
            .collect();
        let text = "abcdefghij".repeat(200) + "3deadbeef12 qq7abcdef0123";
        let mut caches = SearchCaches {
            set: 1,
            slots: (0..regexes.len()).map(|_| None).collect(),
            clock: 0,
            bytes: 0,
            used: Vec::new(),
        };
        let mut found = Vec::new();
        for (rule, regex) in regexes.iter().enumerate() {
            caches.clock += 1;
            let cache = caches.get(rule, regex);
            found.push(regex.search_with(cache, &Input::new(&text)).is_some());
            caches.settle(usize::MAX);
        }
        let total = caches.bytes();
        assert!(total > 0, "used caches are measured");
        // A budget of half keeps the newest caches and drops the oldest.
        caches.settle(total / 2);
        assert!(
            caches.bytes() <= total / 2 / 4 * 3,
            "{} of {total}",
            caches.bytes()
        );
        assert!(caches.slots[0].is_none(), "the oldest cache is dropped");
        assert!(caches.slots[5].is_some(), "the newest cache is kept");
        // A dropped cache is made again and finds what it found before.
        caches.clock += 1;
        let cache = caches.get(0, &regexes[0]);
        let again = regexes[0].search_with(cache, &Input::new(&text)).is_some();
        assert_eq!(again, found[0]);
        assert_eq!(found, vec![false, false, false, true, false, false]);
    }
}
