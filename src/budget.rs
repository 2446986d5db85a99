//! The byte budget between the IO tasks and the game: what the streams received and the game
//! has not applied yet, over all sources, counted in bytes (the body bytes a batch holds on to
//! and its reports), so that memory is bounded however the server frames its events.
//!
//! Room the batches leave may hold emptied event lists for the IO tasks' next batches
//! ([`ByteBudget::keep`]): they count as used, and a task that finds the budget spent drops
//! them before it waits.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

use crate::parser::MessageEvent;

/// Bytes in flight and the bound on them; IO tasks wait for room.
#[derive(Debug)]
pub(crate) struct ByteBudget {
    limit: usize,
    used: AtomicUsize,
    /// Tasks waiting for room: while none, a release touches no lock.
    waiting: AtomicUsize,
    room: Notify,
    /// Event lists the game's thread emptied, oldest first, their capacity counted in `used`.
    spare: Mutex<VecDeque<Vec<MessageEvent>>>,
}

impl ByteBudget {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit: limit.max(1),
            used: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            room: Notify::new(),
            spare: Mutex::default(),
        })
    }

    /// Bytes held now.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// Takes `bytes` of the budget, waiting while it is spent. A batch is let through whenever
    /// the budget is not spent yet, whatever its size, so one event larger than the whole budget
    /// still passes (alone): at most `limit` plus one batch are ever held.
    pub(crate) async fn acquire(self: &Arc<Self>, bytes: usize) -> Credit {
        let credit = || Credit {
            budget: Some(self.clone()),
            bytes,
        };
        if self.try_take(bytes) || (self.drop_spare() && self.try_take(bytes)) {
            return credit();
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.waiting);
        loop {
            let notified = self.room.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the check, so a release between the check and the wait wakes it.
            notified.as_mut().enable();
            // The game's thread may have kept lists in the room it gave back meanwhile.
            if self.try_take(bytes) || (self.drop_spare() && self.try_take(bytes)) {
                return credit();
            }
            notified.await;
        }
    }

    /// Keeps an event list the game's thread emptied, for an IO task's next batch, if the budget
    /// has room for its capacity; otherwise drops it.
    ///
    /// Why: a list the IO thread fills is read on the game's thread, so its cache lines end up
    /// in the game's core. Freed, it is the memory the allocator hands the IO thread next, whose
    /// writes then wait for the game's core to let each line go. Lists taken back oldest first,
    /// once the game's core has moved on, spare the IO thread that (and the list's growth): on
    /// a fast plain stream the IO thread took 8–9 % less time, and a stream 7–9 % less (200,000
    /// tick events a stream, streams with and without taking turns, 60 pairs, three runs).
    pub(crate) fn keep(&self, list: Vec<MessageEvent>) {
        let bytes = list_bytes(&list);
        if bytes == 0 {
            return;
        }
        let room = self
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                (used + bytes <= self.limit).then_some(used + bytes)
            });
        if room.is_ok() {
            self.spare_lists().push_back(list);
        }
    }

    /// The oldest list kept, emptied, its room given back; an unallocated one if none is kept.
    pub(crate) fn spare_list(&self) -> Vec<MessageEvent> {
        let Some(list) = self.spare_lists().pop_front() else {
            return Vec::new();
        };
        // The batch the list goes into takes the room again with its cost.
        self.used.fetch_sub(list_bytes(&list), Ordering::SeqCst);
        list
    }

    /// Drops every list kept and gives their room back. Whether there was any.
    fn drop_spare(&self) -> bool {
        let lists = std::mem::take(&mut *self.spare_lists());
        let bytes: usize = lists.iter().map(list_bytes).sum();
        self.used.fetch_sub(bytes, Ordering::SeqCst);
        bytes > 0
    }

    fn spare_lists(&self) -> std::sync::MutexGuard<'_, VecDeque<Vec<MessageEvent>>> {
        // A panic while the lock was held left at worst a list more or less: go on.
        self.spare.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn try_take(&self, bytes: usize) -> bool {
        let taken = self
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                (used < self.limit).then(|| used + bytes)
            })
            .is_ok();
        if taken && self.used.load(Ordering::Acquire) < self.limit {
            // Room is left: the next waiter may take some too (each wakes the next).
            self.wake_one();
        }
        taken
    }

    fn release(&self, bytes: usize) {
        self.release_quietly(bytes);
        self.wake_one();
    }

    /// Gives `bytes` back without waking a waiting task (see [`Credit::release_quietly_keeping`]).
    fn release_quietly(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::SeqCst);
    }

    /// Wakes one waiting task, if any; a task that takes room wakes the next while room is
    /// left. The receive step calls this once, after the batches it applied gave their room back
    /// [quietly](Credit::release_quietly_keeping).
    pub(crate) fn wake_one(&self) {
        // A task counts itself before it checks for room, and checks after it registered for a
        // wake-up: a release that sees no waiter happened before that check, which then finds
        // the room.
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.room.notify_one();
        }
    }
}

/// The bytes a list's capacity takes.
fn list_bytes(list: &Vec<MessageEvent>) -> usize {
    list.capacity() * std::mem::size_of::<MessageEvent>()
}

/// Uncounts a waiting task however its wait ends (room, or the task cancelled).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A batch's share of the budget, given back when the batch is dropped (applied, or discarded
/// with its attempt).
#[derive(Debug, Default)]
pub(crate) struct Credit {
    budget: Option<Arc<ByteBudget>>,
    bytes: usize,
}

impl Credit {
    /// Gives the room back without waking a waiting task: the caller wakes one later, once for
    /// many credits. Waking a task on the IO thread from the game's thread is a system call, and
    /// was one for every batch a burst had to wait with (2,000 a second at 10,000 sources).
    /// Then [keeps](ByteBudget::keep) the batch's emptied event list in the room given back.
    pub(crate) fn release_quietly_keeping(mut self, list: Vec<MessageEvent>) {
        if let Some(budget) = self.budget.take() {
            budget.release_quietly(self.bytes);
            budget.keep(list);
        }
    }

    #[cfg(test)]
    fn release_quietly(self) {
        self.release_quietly_keeping(Vec::new());
    }
}

impl Drop for Credit {
    fn drop(&mut self) {
        if let Some(budget) = self.budget.take() {
            budget.release(self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::{block_on, poll_once};

    #[test]
    fn waits_while_spent_and_goes_on_when_a_batch_is_applied() {
        let budget = ByteBudget::new(100);
        let first = block_on(budget.acquire(60));
        let second = block_on(budget.acquire(60));
        assert_eq!(
            budget.used(),
            120,
            "one batch may overshoot a budget not yet spent"
        );
        let mut waiting = Box::pin(budget.acquire(10));
        assert!(
            block_on(poll_once(&mut waiting)).is_none(),
            "spent: the sender waits"
        );
        drop(first);
        let third = block_on(poll_once(&mut waiting)).expect("room again after a release");
        assert_eq!(budget.used(), 70);
        drop((second, third));
        assert_eq!(budget.used(), 0);
    }

    /// Tasks on an IO thread wait for room and the game's thread gives it back, many times over,
    /// as in a long burst: no wake-up may be lost in any interleaving.
    #[test]
    fn every_waiting_task_gets_room_as_the_game_releases_it() {
        stress(|credit| credit.release_quietly());
    }

    /// The same, the game's thread keeping a list in most room it gives back: a task that finds
    /// the budget spent by kept lists drops them and goes on, however the two threads interleave.
    #[test]
    fn every_waiting_task_gets_room_while_the_game_keeps_lists() {
        stress(|credit| credit.release_quietly_keeping(Vec::with_capacity(1)));
    }

    fn list(capacity: usize) -> Vec<MessageEvent> {
        Vec::with_capacity(capacity)
    }

    const LIST: usize = std::mem::size_of::<MessageEvent>();

    #[test]
    fn kept_lists_come_back_oldest_first_and_only_within_the_room() {
        let budget = ByteBudget::new(3 * LIST);
        let (a, b) = (list(1), list(1));
        let (a_at, b_at) = (a.as_ptr(), b.as_ptr());
        budget.keep(a);
        budget.keep(b);
        assert_eq!(budget.used(), 2 * LIST, "kept lists count as used");
        budget.keep(list(2));
        assert_eq!(budget.used(), 2 * LIST, "no room for that one: dropped");
        budget.keep(Vec::new());
        assert_eq!(
            budget.spare_lists().len(),
            2,
            "an unallocated list is not kept"
        );

        let first = budget.spare_list();
        assert_eq!(
            (first.as_ptr(), first.capacity()),
            (a_at, 1),
            "oldest first"
        );
        assert_eq!(budget.used(), LIST, "its room goes with it");
        let second = budget.spare_list();
        assert_eq!(second.as_ptr(), b_at);
        assert_eq!(budget.spare_list().capacity(), 0, "none kept: a new list");
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn a_task_drops_kept_lists_instead_of_waiting_for_them() {
        let budget = ByteBudget::new(4 * LIST);
        let batch = block_on(budget.acquire(LIST));
        budget.keep(list(3));
        assert_eq!(budget.used(), 4 * LIST, "spent: a batch and a kept list");
        let next = block_on(poll_once(Box::pin(budget.acquire(2 * LIST))))
            .expect("the kept list gives its room up: no wait");
        assert_eq!(budget.used(), 3 * LIST);
        assert!(budget.spare_lists().is_empty());
        drop((batch, next));
        assert_eq!(budget.used(), 0);

        // A list kept while a task waits: the task's next wake-up drops it.
        let batch = block_on(budget.acquire(4 * LIST));
        let mut waiting = Box::pin(budget.acquire(LIST));
        assert!(block_on(poll_once(&mut waiting)).is_none());
        batch.release_quietly_keeping(list(4));
        assert_eq!(budget.used(), 4 * LIST, "the room went to the kept list");
        budget.wake_one();
        let next = block_on(poll_once(&mut waiting)).expect("room after dropping the list");
        assert_eq!(budget.used(), LIST);
        drop(next);
    }

    fn stress(give_back: impl Fn(Credit)) {
        const TASKS: usize = 4;
        const ROUNDS: usize = 50_000;
        let budget = ByteBudget::new(5 * LIST);
        let (credits, applied) = std::sync::mpsc::channel();
        let io = {
            let budget = budget.clone();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let tasks: Vec<_> = (0..TASKS)
                        .map(|_| {
                            let (budget, credits) = (budget.clone(), credits.clone());
                            tokio::spawn(async move {
                                for _ in 0..ROUNDS {
                                    let _ = credits.send(budget.acquire(2 * LIST).await);
                                }
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.unwrap();
                    }
                });
            })
        };
        // As the receive step does: what has arrived gives its room back quietly, then one
        // wake-up.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut received = 0;
        while received < TASKS * ROUNDS {
            let timeout = deadline.saturating_duration_since(std::time::Instant::now());
            let credit = applied.recv_timeout(timeout).unwrap_or_else(|_| {
                panic!(
                    "{received} of {} batches got room; the rest wait for good",
                    TASKS * ROUNDS
                )
            });
            give_back(credit);
            received += 1;
            while let Ok(credit) = applied.try_recv() {
                give_back(credit);
                received += 1;
            }
            budget.wake_one();
        }
        io.join().unwrap();
        budget.drop_spare();
        assert_eq!(budget.used(), 0);
        assert_eq!(budget.waiting.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn one_batch_larger_than_the_budget_passes_alone() {
        let budget = ByteBudget::new(10);
        let big = block_on(budget.acquire(1 << 24));
        assert_eq!(budget.used(), 1 << 24);
        assert!(block_on(poll_once(Box::pin(budget.acquire(1)))).is_none());
        assert_eq!(
            budget.used(),
            1 << 24,
            "a wait given up takes nothing and gives nothing"
        );
        drop(big);
        assert_eq!(budget.used(), 0);
    }
}
