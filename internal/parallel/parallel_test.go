package parallel

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
)

func TestEach(t *testing.T) {
	for _, n := range []int{0, 1, 2, 1000} {
		seen := make([]atomic.Int32, n)
		if err := Each(n, func(i int) error { seen[i].Add(1); return nil }); err != nil {
			t.Fatal(err)
		}
		for i := range seen {
			if c := seen[i].Load(); c != 1 {
				t.Fatalf("n=%d: step %d ran %d times", n, i, c)
			}
		}
	}
	var ran atomic.Int32
	err := Each(100, func(i int) error {
		ran.Add(1)
		if i == 7 || i == 90 {
			return fmt.Errorf("step %d: %w", i, errTest)
		}
		return nil
	})
	if !errors.Is(err, errTest) || err.Error() != "step 7: boom" || ran.Load() != 100 {
		t.Fatalf("error %v after %d steps; want step 7's after all 100", err, ran.Load())
	}
}

var errTest = errors.New("boom")
