// Package bytesize formats byte counts for people, with binary units.
package bytesize

import "fmt"

// Format writes n as bytes below one KiB ("512 B"), else in KiB or MiB
// with one decimal ("1.5 KiB", "3.2 MiB"); MiB is the largest unit.
func Format(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
