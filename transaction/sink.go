package transaction

import (
	"fmt"
	"hash"
	"os"
	"sync"
)

// sinkDepth is how many chunks a worker may queue ahead of its writer.
const sinkDepth = 8

// sink writes and hashes one worker's staged files in a goroutine of its
// own, so that decoding the package (the worker) overlaps writing, hashing
// and the per-file system calls. Operations run in the order they are sent.
type sink struct {
	pool *sync.Pool
	ops  chan sinkOp
	done chan struct{}

	mu     sync.Mutex
	err    error
	closed bool
}

// sinkFile is one staged file being written.
type sinkFile struct {
	out    *os.File
	sh, mh hash.Hash // mh may be nil
	n      int64
	failed bool
	// finish runs in the sink after the last chunk: it closes the file
	// and records the results.
	finish func(f *sinkFile) error
}

type sinkOp struct {
	file  *sinkFile
	data  *[]byte
	n     int
	close bool
	flush chan struct{}
}

func newSink(pool *sync.Pool) *sink {
	k := &sink{pool: pool, ops: make(chan sinkOp, sinkDepth), done: make(chan struct{})}
	go k.run()
	return k
}

func (k *sink) fail(err error) {
	k.mu.Lock()
	if k.err == nil {
		k.err = err
	}
	k.mu.Unlock()
}

// failed returns the first error the sink met.
func (k *sink) failed() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err
}

func (k *sink) run() {
	defer close(k.done)
	for op := range k.ops {
		switch {
		case op.flush != nil:
			close(op.flush)
		case op.data != nil:
			f := op.file
			if !f.failed {
				b := (*op.data)[:op.n]
				_, err := f.out.Write(b)
				if err != nil {
					f.failed = true
					k.fail(fmt.Errorf("write %s: %w", f.out.Name(), err))
				} else {
					f.sh.Write(b)
					if f.mh != nil {
						f.mh.Write(b)
					}
					f.n += int64(op.n)
				}
			}
			k.pool.Put(op.data)
		case op.close:
			f := op.file
			if f.failed || f.finish == nil {
				_ = f.out.Close()
				continue
			}
			if err := f.finish(f); err != nil {
				k.fail(err)
			}
		}
	}
}

// send queues op; it reports the sink's error, if any, so the worker stops.
func (k *sink) send(op sinkOp) error {
	k.ops <- op
	return k.failed()
}

// flush waits until every queued operation is done.
func (k *sink) flush() error {
	ch := make(chan struct{})
	k.ops <- sinkOp{flush: ch}
	<-ch
	return k.failed()
}

// stop drains the queue and ends the goroutine; it may be called again.
func (k *sink) stop() error {
	k.mu.Lock()
	closed := k.closed
	k.closed = true
	k.mu.Unlock()
	if !closed {
		close(k.ops)
	}
	<-k.done
	return k.failed()
}
