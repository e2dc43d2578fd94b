//! [`Table`]: a function's instructions, constants or line runs, either
//! owned or used in place inside a module image.
//!
//! A module built in memory owns its tables. A module loaded from an
//! image ([`super::image`]) points into the image's bytes, which it keeps
//! alive: nothing is parsed or copied, and the pages of a mapped image are
//! read only as the program runs them. Both read as a slice.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// Bytes that tables may point into: a mapped image file, or a buffer.
/// They must not change while any table points into them.
pub trait ImageBytes: Send + Sync {
    /// The bytes.
    fn bytes(&self) -> &[u8];
}

impl ImageBytes for Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }
}

/// A read-only array of `T`, owned or in an image.
pub struct Table<T: 'static> {
    ptr: *const T,
    len: usize,
    store: Store<T>,
}

enum Store<T> {
    Owned(Vec<T>),
    /// Keeps the image's bytes, which `ptr` points into, alive.
    Image(Arc<dyn ImageBytes>),
}

// SAFETY: a Table is an immutable slice of T, kept alive by its store
// (a Vec it owns, or image bytes that never change); sharing or sending it
// is sharing or sending `&[T]`.
unsafe impl<T: Sync> Send for Table<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for Table<T> {}

impl<T> Table<T> {
    /// The `len` values of `T` at byte `offset` of `image`.
    ///
    /// # Safety
    /// `offset .. offset + len * size_of::<T>()` lies inside the bytes, is
    /// aligned for `T`, and holds valid values of `T` (for an enum: valid
    /// tags); the bytes never change.
    pub unsafe fn in_image(image: Arc<dyn ImageBytes>, offset: usize, len: usize) -> Table<T> {
        // SAFETY: the caller's contract: in bounds.
        let ptr = unsafe { image.bytes().as_ptr().add(offset) } as *const T;
        Table {
            ptr,
            len,
            store: Store::Image(image),
        }
    }

    /// True if it points into an image.
    pub fn is_in_image(&self) -> bool {
        matches!(self.store, Store::Image(_))
    }
}

impl<T> From<Vec<T>> for Table<T> {
    fn from(values: Vec<T>) -> Table<T> {
        Table {
            ptr: values.as_ptr(),
            len: values.len(),
            store: Store::Owned(values),
        }
    }
}

impl<T> Default for Table<T> {
    fn default() -> Table<T> {
        Table::from(Vec::new())
    }
}

impl<T> Deref for Table<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        // SAFETY: `ptr` and `len` describe the owned Vec (never changed
        // after construction, and a Vec's buffer does not move when the Vec
        // does) or a checked range of image bytes that the store keeps
        // alive and unchanged.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl<'a, T> IntoIterator for &'a Table<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: Clone> Clone for Table<T> {
    fn clone(&self) -> Table<T> {
        match &self.store {
            Store::Owned(values) => Table::from(values.clone()),
            Store::Image(image) => Table {
                ptr: self.ptr,
                len: self.len,
                store: Store::Image(image.clone()),
            },
        }
    }
}

impl<T: PartialEq> PartialEq for Table<T> {
    fn eq(&self, other: &Table<T>) -> bool {
        **self == **other
    }
}

impl<T: Eq> Eq for Table<T> {}

impl<T: fmt::Debug> fmt::Debug for Table<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_and_image_tables_read_the_same() {
        let owned = Table::from(vec![1u32, 2, 3]);
        let bytes: Vec<u8> = [7u32, 1, 2, 3]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let image: Arc<dyn ImageBytes> = Arc::new(bytes);
        // SAFETY: bytes 4..16 are three aligned u32s (a Vec<u8> of 16 bytes
        // from the allocator is aligned to at least 8 here: checked).
        assert_eq!(image.bytes().as_ptr() as usize % 4, 0);
        let mapped: Table<u32> = unsafe { Table::in_image(image, 4, 3) };
        assert_eq!(owned, mapped);
        assert!(mapped.is_in_image() && !owned.is_in_image());
        let copy = mapped.clone();
        drop(mapped);
        assert_eq!(&*copy, &[1, 2, 3]);
    }
}
