//! The byte budget between the IO tasks and the game: what the streams received and the game
//! has not applied yet, over all sources, counted in bytes (the body bytes a batch holds on to
//! and its reports), so that memory is bounded however the server frames its events.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Bytes in flight and the bound on them; IO tasks wait for room.
#[derive(Debug)]
pub(crate) struct ByteBudget {
    limit: usize,
    used: AtomicUsize,
    /// Tasks waiting for room: while none, a release touches no lock.
    waiting: AtomicUsize,
    room: Notify,
}

impl ByteBudget {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit: limit.max(1),
            used: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            room: Notify::new(),
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
        if self.try_take(bytes) {
            return credit();
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.waiting);
        loop {
            let notified = self.room.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the check, so a release between the check and the wait wakes it.
            notified.as_mut().enable();
            if self.try_take(bytes) {
                return credit();
            }
            notified.await;
        }
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

    /// Gives `bytes` back without waking a waiting task (see [`Credit::release_quietly`]).
    fn release_quietly(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::SeqCst);
    }

    /// Wakes one waiting task, if any; a task that takes room wakes the next while room is
    /// left. The receive step calls this once, after the batches it applied gave their room back
    /// [quietly](Credit::release_quietly).
    pub(crate) fn wake_one(&self) {
        // A task counts itself before it checks for room, and checks after it registered for a
        // wake-up: a release that sees no waiter happened before that check, which then finds
        // the room.
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.room.notify_one();
        }
    }
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
    pub(crate) fn release_quietly(mut self) {
        if let Some(budget) = self.budget.take() {
            budget.release_quietly(self.bytes);
        }
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
        const TASKS: usize = 4;
        const ROUNDS: usize = 50_000;
        let budget = ByteBudget::new(100);
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
                                    let _ = credits.send(budget.acquire(40).await);
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
            credit.release_quietly();
            received += 1;
            while let Ok(credit) = applied.try_recv() {
                credit.release_quietly();
                received += 1;
            }
            budget.wake_one();
        }
        io.join().unwrap();
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
