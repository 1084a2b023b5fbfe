//! Slots: the investigations (or judgements) a run has going at once, each one's
//! next investigation prepared while the current one runs.
//!
//! A slot takes the next queued file only when it is free and its agent-side
//! preparation ([`Agent::prepare`]: for an agent CLI, creating the sandbox) is done,
//! so that the slow part is never between claiming a file and the first model
//! request, nor holds a claim. Slots are not partitions: whichever slot frees up first
//! takes the next file, so a slow file holds up only its own slot.

use crate::{Progress, SlotState};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::task::{Id, JoinSet};
use warden_agent::Agent;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Next {
    /// Nothing prepared for the slot's next investigation.
    #[default]
    None,
    Preparing,
    Ready,
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    busy: bool,
    next: Next,
}

pub(crate) struct Slots {
    slots: Vec<Slot>,
    preparing: JoinSet<()>,
    /// The slot of each preparation, so that even one that panicked is accounted for.
    by_task: HashMap<Id, usize>,
}

impl Slots {
    /// `n` slots (at least one), none prepared yet.
    pub(crate) fn new(n: usize) -> Slots {
        Slots {
            slots: vec![Slot::default(); n.max(1)],
            preparing: JoinSet::new(),
            by_task: HashMap::new(),
        }
    }

    /// Starts preparing the next investigation of slots that have none, as many as
    /// `remaining` queued items can use (a run of two files with eight slots prepares
    /// two). A free slot comes first: while work remains it never waits on a busy slot's
    /// spare, at the cost of a spare or two left unused at the end of the queue.
    pub(crate) fn prepare(
        &mut self,
        agent: &Arc<dyn Agent>,
        remaining: usize,
        progress: &dyn Progress,
    ) {
        for busy in [false, true] {
            // Spares a slot of this kind (and, for busy slots, any slot) can use.
            let mut spare = self
                .slots
                .iter()
                .filter(|s| s.next != Next::None && (busy || !s.busy))
                .count();
            for i in 0..self.slots.len() {
                if spare >= remaining {
                    break;
                }
                let slot = &mut self.slots[i];
                if slot.busy != busy || slot.next != Next::None {
                    continue;
                }
                slot.next = Next::Preparing;
                spare += 1;
                let agent = Arc::clone(agent);
                let handle = self.preparing.spawn(async move { agent.prepare().await });
                self.by_task.insert(handle.id(), i);
                if !busy {
                    progress.slot(i, SlotState::Preparing);
                }
            }
        }
    }

    /// A free slot whose next investigation is prepared.
    pub(crate) fn ready(&self) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| !s.busy && s.next == Next::Ready)
    }

    /// `slot` starts investigating `paths` (what it prepared is used up).
    pub(crate) fn start(&mut self, slot: usize, paths: &[String], progress: &dyn Progress) {
        if let Some(s) = self.slots.get_mut(slot) {
            s.busy = true;
            s.next = Next::None;
        }
        let path = paths.first().map_or("", String::as_str);
        let more = paths.len().saturating_sub(1);
        progress.slot(slot, SlotState::Investigating { path, more });
    }

    /// `slot`'s investigation is over.
    pub(crate) fn finish(&mut self, slot: usize, progress: &dyn Progress) {
        if let Some(s) = self.slots.get_mut(slot) {
            s.busy = false;
            progress.slot(slot, state_of(s));
        }
    }

    /// Whether a preparation is under way.
    pub(crate) fn preparing(&self) -> bool {
        !self.preparing.is_empty()
    }

    /// Waits for the next preparation to finish (never, with none under way).
    pub(crate) async fn prepared(&mut self, progress: &dyn Progress) {
        let Some(done) = self.preparing.join_next_with_id().await else {
            return std::future::pending().await;
        };
        // A preparation that failed leaves the investigation to set itself up (and
        // say what went wrong), so its slot counts as ready either way.
        let id = match done {
            Ok((id, ())) => id,
            Err(e) => e.id(),
        };
        let Some(slot) = self.by_task.remove(&id) else {
            return;
        };
        if let Some(s) = self.slots.get_mut(slot) {
            s.next = Next::Ready;
            if !s.busy {
                progress.slot(slot, SlotState::Idle);
            }
        }
    }

    /// The run is over: every slot is idle (what was being prepared is abandoned).
    pub(crate) fn close(&mut self, progress: &dyn Progress) {
        self.preparing.abort_all();
        for i in 0..self.slots.len() {
            progress.slot(i, SlotState::Idle);
        }
    }
}

fn state_of(s: &Slot) -> SlotState<'static> {
    match s.next {
        Next::Preparing => SlotState::Preparing,
        Next::None | Next::Ready => SlotState::Idle,
    }
}
