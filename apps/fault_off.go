//go:build !faultinject

package apps

// killAt does nothing outside builds with the faultinject tag.
func killAt(string) {}
