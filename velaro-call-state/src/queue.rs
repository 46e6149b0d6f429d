//! The machines' output queues: drained one output at a time, and given back once empty.

use std::collections::VecDeque;

/// The next output of `queue`; once it is drained, its buffer is given back, so that an idle
/// machine (a live call between two frames, a conversation with nobody talking) holds none.
pub(crate) fn pop_output<T>(queue: &mut VecDeque<T>) -> Option<T> {
    let output = queue.pop_front();
    if output.is_none() && queue.capacity() > 0 {
        *queue = VecDeque::new();
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drained_queue_holds_no_buffer() {
        let mut queue: VecDeque<u32> = (0..100).collect();
        assert_eq!(pop_output(&mut queue), Some(0));
        assert!(queue.capacity() >= 99, "kept while outputs wait");
        while pop_output(&mut queue).is_some() {}
        assert_eq!(queue.capacity(), 0);
    }
}
