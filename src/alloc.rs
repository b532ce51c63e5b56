//! The module's allocator: Redis' own once the module is loaded, so every byte of stored
//! data shows in `used_memory` and counts against `maxmemory`; the system allocator before
//! that (unit tests run outside Redis).

use redis_module::raw;
use std::alloc::{GlobalAlloc, Layout, System};

/// Redis' allocator when it is there, else the system's.
pub struct Alloc;

fn redis() -> Option<(
    unsafe extern "C" fn(usize) -> *mut std::os::raw::c_void,
    unsafe extern "C" fn(*mut std::os::raw::c_void),
)> {
    // SAFETY: reading function pointers the module API sets once, before any command or
    // callback of the module runs (RedisModule_Init); unit tests never set them.
    unsafe { Some((raw::RedisModule_Alloc?, raw::RedisModule_Free?)) }
}

// SAFETY: both allocators return memory aligned for `layout` (Redis' jemalloc aligns to
// 16 bytes at least, and larger alignments are requested by rounding the size up as the
// redis-module crate does); each block is freed by the allocator that made it, since
// Redis' functions are set before the module allocates anything.
unsafe impl GlobalAlloc for Alloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match redis() {
            Some((alloc, _)) => {
                let size = (layout.size() + layout.align() - 1) & !(layout.align() - 1);
                // SAFETY: Redis' allocator, with a non-zero size.
                unsafe { alloc(size.max(1)).cast() }
            }
            // SAFETY: forwarding the caller's contract to the system allocator.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match redis() {
            // SAFETY: `ptr` came from Redis' allocator (see the impl's comment).
            Some((_, free)) => unsafe { free(ptr.cast()) },
            // SAFETY: `ptr` came from the system allocator with this layout.
            None => unsafe { System.dealloc(ptr, layout) },
        }
    }
}
