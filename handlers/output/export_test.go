package output

// Internals of Buffered for the tests of package output_test.

// IdleCheckMin is idleCheckMin.
const IdleCheckMin = idleCheckMin

// SpareBatch returns the batch Buffered keeps ready for the next caller, nil if none.
func SpareBatch(o *Buffered) *Batch {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.free) == 0 {
		return nil
	}
	return o.free[len(o.free)-1]
}

// LastQueued returns the newest closed batch.
func LastQueued(o *Buffered) *Batch {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.queue[len(o.queue)-1]
}

// Signals returns how many times a caller woke the sender.
func Signals(o *Buffered) uint64 { return o.signals.Load() }
