//! The byte budget between the IO tasks and the game: what the streams received and the game
//! has not applied yet, over all sources, counted in bytes (the body bytes a batch holds on to
//! and its reports), so that memory is bounded however the server frames its events.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Bytes in flight and the bound on them; IO tasks wait for room.
#[derive(Debug)]
pub(crate) struct ByteBudget {
    limit: usize,
    used: AtomicUsize,
    /// Tasks waiting for room: while none, a release touches no lock.
    waiting: AtomicUsize,
    /// A wake-up is on its way to a waiting task, which passes the room on to the next (see
    /// [`wake_one`](Self::wake_one)).
    wake_sent: AtomicBool,
    room: Notify,
}

impl ByteBudget {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit: limit.max(1),
            used: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            wake_sent: AtomicBool::new(false),
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
            // Releases from now on wake the next waiter again; this one looks at the room
            // they left first.
            self.wake_sent.store(false, Ordering::SeqCst);
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
        self.used.fetch_sub(bytes, Ordering::SeqCst);
        self.wake_one();
    }

    /// Wakes one waiting task, unless a wake-up is already on its way: that task takes what
    /// room it finds when it runs, and wakes the next while room is left. The game's thread
    /// releases a frame's batches one after the other; waking a task on the IO thread from there
    /// is a system call, and was one for every batch a burst had to wait with (2,000 a second
    /// at 10,000 sources).
    fn wake_one(&self) {
        // A task counts itself before it checks for room, and checks after it registered for a
        // wake-up: a release that sees no waiter happened before that check, which then finds
        // the room. A release that sees a wake-up on its way happened before the woken task
        // clears the flag and looks at the room. A woken task that is cancelled instead passes
        // its wake-up on to another waiter, or leaves it for the next.
        if self.waiting.load(Ordering::SeqCst) > 0 && !self.wake_sent.swap(true, Ordering::SeqCst) {
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

    /// Tasks on an IO thread wait for room; the game's thread gives it back one batch at a time
    /// and sends at most one wake-up at a time: every task still gets through.
    #[test]
    fn every_waiting_task_gets_room_as_the_game_releases_it() {
        const TASKS: usize = 500;
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
                                let _ = credits.send(budget.acquire(30).await);
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.unwrap();
                    }
                });
            })
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        for received in 0..TASKS {
            let timeout = deadline.saturating_duration_since(std::time::Instant::now());
            let credit = applied.recv_timeout(timeout).unwrap_or_else(|_| {
                panic!("{received} of {TASKS} tasks got room; the others wait for good")
            });
            drop(credit);
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
