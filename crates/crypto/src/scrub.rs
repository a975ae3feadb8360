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
