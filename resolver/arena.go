package resolver

// Memory of a solve: short lists cut from shared pools (carve), and the
// satisfier lists of every relation in one arena of fixed chunks.

// carve returns an empty slice of capacity n cut from *pool, which is
// replaced by a fresh chunk of max(size, n) elements when it has no room:
// the many short lists of a solve (a name's candidates, a candidate's
// Conflicts) share a few allocations. Appending past n moves the list
// elsewhere, as append does, and never overwrites a neighbour.
func carve[T any](pool *[]T, n, size int) []T {
	p := *pool
	if cap(p)-len(p) < n {
		p = make([]T, 0, max(size, n))
	}
	*pool = p[:len(p)+n]
	return p[len(p) : len(p) : len(p)+n]
}

// poolSize is the size of the chunks carve cuts short lists from.
const poolSize = 1024

// relCache is one relation's cached satisfiers (sat) and where its
// alternatives' interned entries start in posEnt (ent, -1: not yet).
type relCache struct {
	sat relSlot
	ent int32
}

// relSlot locates a relation's satisfier list in the arena; n < 0 means
// not computed yet. Both are int32: a slot is one of the universe's most
// numerous records (one per relation of every candidate), and 12 bytes
// per relCache instead of 24 halve the chunks a large solve allocates.
type relSlot struct{ off, n int32 }

// arenaShift sets the size of a chunk of satisfier lists, arenaChunk.
const (
	arenaShift = 12
	arenaChunk = 1 << arenaShift
)

// push appends id to a short list of candidates, which starts with room
// for two cut from the universe's pool (most names have one or two).
func (u *universe) push(l []int, id int) []int {
	if cap(l) == 0 {
		l = carve(&u.ints, 2, poolSize)
	}
	return append(l, id)
}

// satArena holds the satisfier lists of a solve: cur is the current chunk
// and chunks every chunk by number. No allocation per list, and, unlike
// one growing slice, no copy at every doubling and no old arrays left
// behind.
type satArena struct {
	cur    []int
	chunks [][]int
}

// slice returns the arena's list at slot r, capped so nobody appends to it.
func (a *satArena) slice(r relSlot) []int {
	if r.n <= 0 {
		return nil
	}
	c := a.chunks[r.off>>arenaShift]
	i := int(r.off & (arenaChunk - 1))
	return c[i : i+int(r.n) : i+int(r.n)]
}

// room makes room for n more entries in the current chunk, starting a
// new one when they do not fit: a list never spans two chunks, and chunks
// never move.
func (a *satArena) room(n int) {
	if cap(a.cur)-len(a.cur) < n || a.chunks == nil {
		c := make([]int, max(arenaChunk, n))
		a.chunks = append(a.chunks, c)
		a.cur = c[:0]
	}
}

// slot returns the slot of the list written in the current chunk from
// start to its end. An empty list is the zero slot. A chunk's lists start
// below arenaChunk (a larger chunk holds one list, at 0), so the chunk's
// number and the list's start share off.
func (a *satArena) slot(start int) relSlot {
	n := len(a.cur) - start
	if n == 0 {
		return relSlot{}
	}
	return relSlot{int32((len(a.chunks)-1)<<arenaShift | start), int32(n)}
}

func containsInt(s []int, x int) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}
