//! Scrubbing `ring` key objects on drop.
//!
//! `ring`'s `Ed25519KeyPair` and `hmac::Key` hold expanded secret material and do not
//! zeroize it when dropped (ring's position is that it cannot promise to). We keep each
//! such object in one heap allocation that never moves, and on drop overwrite it in place
//! with an object derived from an all-zero, public seed before the allocation is freed;
//! `black_box` keeps the compiler from treating that store as dead. What this cannot
//! reach: copies `ring` itself makes on the stack while it derives or uses a key. The
//! threat model lists that residue (`threat-model/README.md`, T-DEV-3).

use std::hint::black_box;

/// A value that is overwritten with `blank()` in place when dropped.
pub(crate) struct Scrubbed<T> {
    inner: Box<T>,
    blank: fn() -> T,
}

impl<T> Scrubbed<T> {
    pub(crate) fn new(value: T, blank: fn() -> T) -> Self {
        Self {
            inner: Box::new(value),
            blank,
        }
    }

    pub(crate) fn get(&self) -> &T {
        &self.inner
    }
}

impl<T> Drop for Scrubbed<T> {
    fn drop(&mut self) {
        *self.inner = (self.blank)();
        black_box(&*self.inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    thread_local! {
        /// The values dropped on this thread, in order.
        static DROPPED: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
    }

    /// A stand-in for a key object that records when each instance is dropped.
    struct Recorder(&'static str);

    impl Drop for Recorder {
        fn drop(&mut self) {
            DROPPED.with(|d| d.borrow_mut().push(self.0));
        }
    }

    #[test]
    fn seal_9_key_object_is_overwritten_in_place_before_it_is_freed() {
        DROPPED.with(|d| d.borrow_mut().clear());
        let scrubbed = Scrubbed::new(Recorder("secret"), || Recorder("blank"));
        assert_eq!(scrubbed.get().0, "secret");
        DROPPED.with(|d| assert!(d.borrow().is_empty()));
        drop(scrubbed);
        // The secret object was replaced in its allocation by the blank one (dropping the
        // secret), and only then was the allocation, now holding the blank, freed.
        DROPPED.with(|d| assert_eq!(*d.borrow(), ["secret", "blank"]));
    }
}
