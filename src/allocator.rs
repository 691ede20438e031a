//! The binary's allocator: mimalloc, entered by its plain `mi_malloc` family for the layouts `malloc` itself
//! serves. A run allocates about three times per simulated event; the `mimalloc` crate sends every allocation
//! through `mi_malloc_aligned`, whose alignment checks cost about as much again as the allocation itself. Like
//! std's `System` allocator, only an alignment beyond what every block already has takes the aligned entry.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys::{
    mi_free, mi_malloc, mi_malloc_aligned, mi_realloc, mi_realloc_aligned, mi_zalloc, mi_zalloc_aligned,
};

/// The alignment every mimalloc block of at least this size has (`MI_MAX_ALIGN_SIZE`, 16 on 64-bit targets,
/// where block sizes are multiples of two words); a smaller block is 8 bytes and aligned to 8.
const MIN_ALIGN: usize = 16;

/// True if a plain `mi_malloc` of `size` bytes is aligned to `align`: mimalloc's own test before it takes the
/// plain path of an aligned call (`mi_malloc_is_naturally_aligned` in `alloc-aligned.c`), without the calls.
#[inline]
fn plain(align: usize, size: usize) -> bool {
    align <= MIN_ALIGN && align <= size
}

/// A new block for `layout` from `plain_entry` when a plain block is aligned enough, else from `aligned_entry`.
///
/// # Safety
/// The entries must be mimalloc's plain and aligned variants of one allocation (`mi_malloc` and
/// `mi_malloc_aligned`, or the zeroing pair).
#[inline(always)]
unsafe fn by_layout(
    layout: Layout,
    plain_entry: unsafe extern "C" fn(usize) -> *mut c_void,
    aligned_entry: unsafe extern "C" fn(usize, usize) -> *mut c_void,
) -> *mut u8 {
    // SAFETY: the caller passes a matching pair; `plain` is mimalloc's alignment guarantee for a plain block.
    unsafe {
        if plain(layout.align(), layout.size()) {
            plain_entry(layout.size()).cast()
        } else {
            aligned_entry(layout.size(), layout.align()).cast()
        }
    }
}

/// mimalloc as the global allocator (see the module's doc for why not `mimalloc::MiMalloc`).
pub struct MiMalloc;

// SAFETY: each method hands mimalloc a layout it serves: the plain entries only when `plain` holds, which is
// mimalloc's alignment guarantee for a block of that size, and the aligned entries otherwise.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see the impl.
        unsafe { by_layout(layout, mi_malloc, mi_malloc_aligned) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see the impl.
        unsafe { by_layout(layout, mi_zalloc, mi_zalloc_aligned) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator, so from mimalloc.
        unsafe { mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from mimalloc; the new block keeps `layout`'s alignment by the same rule as `alloc`.
        unsafe {
            if plain(layout.align(), new_size) {
                mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

/// Turns transparent huge pages off for the rest of the process (on Linux; elsewhere it does nothing).
///
/// A run's working set is a few tens of megabytes and a check's a few hundred filled once, so huge pages save
/// few TLB misses, while each one faulted in is 2 MB zeroed, and more on a virtual machine whose host takes back
/// the guest's free memory (free page reporting, as on many CI runners): there a huge page faulted in after an
/// idle spell is a fault on the host too. Measured on such a machine (docs/performance.md): campaigns and the
/// kernel bench no slower without them (eos-tv2 0–3% faster, within the noise), and the 10^6-operation check
/// 0.9 s of CPU time, idle before or not, where it took 0.55 s right after another run and up to 3.0 s after a
/// pause.
pub fn without_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and changes only this process's paging policy; a kernel
    // without it refuses the call, which leaves everything as it was.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aligned(block: *mut u8, align: usize) -> bool {
        (block as usize) & (align - 1) == 0
    }

    /// Every layout a run uses, plain or aligned, comes back aligned, writable and reallocated with its bytes.
    #[test]
    fn blocks_are_aligned_as_asked_and_keep_their_bytes_when_grown() {
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [1, 3, 8, 15, 16, 17, 24, 100, 1000, 70_000] {
                let layout = Layout::from_size_align(size, align).expect("a valid layout");
                // SAFETY: a non-zero size; each block is freed once, by this allocator, with its layout.
                unsafe {
                    let block = MiMalloc.alloc(layout);
                    assert!(!block.is_null() && aligned(block, align), "{size} bytes aligned to {align}");
                    std::ptr::write_bytes(block, 0xab, size);
                    let grown = MiMalloc.realloc(block, layout, size * 3);
                    assert!(!grown.is_null() && aligned(grown, align), "{size} → {} aligned to {align}", size * 3);
                    assert!((0..size).all(|i| *grown.add(i) == 0xab), "{size} bytes kept when grown");
                    MiMalloc.dealloc(grown, Layout::from_size_align(size * 3, align).expect("a valid layout"));
                    let zeroed = MiMalloc.alloc_zeroed(layout);
                    assert!(aligned(zeroed, align) && (0..size).all(|i| *zeroed.add(i) == 0));
                    MiMalloc.dealloc(zeroed, layout);
                }
            }
        }
    }

    /// The kernel reports the process's huge pages off once asked (`THP_enabled` in /proc/self/status, since
    /// Linux 5.0).
    #[test]
    #[cfg(target_os = "linux")]
    fn huge_pages_are_off_once_asked() {
        without_huge_pages();
        let status = std::fs::read_to_string("/proc/self/status").expect("procfs is mounted");
        if let Some(line) = status.lines().find(|line| line.starts_with("THP_enabled:")) {
            assert_eq!(line.split_whitespace().nth(1), Some("0"), "after PR_SET_THP_DISABLE: {line}");
        }
    }
}
