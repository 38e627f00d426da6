package sources

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// deb822Name returns apt's deb822 field name for a one-line option, or
// the option name itself when apt has no field for it.
func deb822Name(option string) string {
	switch option {
	case "arch":
		return "Architectures"
	case "arch+":
		return "Architectures-Add"
	case "arch-":
		return "Architectures-Remove"
	case "lang":
		return "Languages"
	case "lang+":
		return "Languages-Add"
	case "lang-":
		return "Languages-Remove"
	case "target":
		return "Targets"
	case "target+":
		return "Targets-Add"
	case "target-":
		return "Targets-Remove"
	case "trusted":
		return "Trusted"
	case "check-valid-until":
		return "Check-Valid-Until"
	case "valid-until-min":
		return "Valid-Until-Min"
	case "valid-until-max":
		return "Valid-Until-Max"
	case "check-date":
		return "Check-Date"
	case "date-max-future":
		return "Date-Max-Future"
	case "signed-by":
		return "Signed-By"
	case "pdiffs":
		return "PDiffs"
	case "by-hash":
		return "By-Hash"
	case "inrelease-path":
		return "InRelease-Path"
	case "allow-insecure":
		return "Allow-Insecure"
	case "allow-weak":
		return "Allow-Weak"
	case "allow-downgrade-to-insecure":
		return "Allow-Downgrade-To-Insecure"
	case "snapshot":
		return "Snapshot"
	}
	return option
}

// optionName returns the one-line option name of a deb822 field; unknown
// fields become their lower-cased name.
func optionName(field string) string {
	switch f := strings.ToLower(field); f {
	case "architectures":
		return "arch"
	case "architectures-add":
		return "arch+"
	case "architectures-remove":
		return "arch-"
	case "languages":
		return "lang"
	case "languages-add":
		return "lang+"
	case "languages-remove":
		return "lang-"
	case "targets":
		return "target"
	case "targets-add":
		return "target+"
	case "targets-remove":
		return "target-"
	case "trusted":
		return "trusted"
	case "check-valid-until":
		return "check-valid-until"
	case "valid-until-min":
		return "valid-until-min"
	case "valid-until-max":
		return "valid-until-max"
	case "check-date":
		return "check-date"
	case "date-max-future":
		return "date-max-future"
	case "signed-by":
		return "signed-by"
	case "pdiffs":
		return "pdiffs"
	case "by-hash":
		return "by-hash"
	case "inrelease-path":
		return "inrelease-path"
	case "allow-insecure":
		return "allow-insecure"
	case "allow-weak":
		return "allow-weak"
	case "allow-downgrade-to-insecure":
		return "allow-downgrade-to-insecure"
	case "snapshot":
		return "snapshot"
	default:
		return f
	}
}

// multiValue reports whether a one-line option takes a comma-separated list
// (a whitespace-separated one in deb822).
func multiValue(key string) bool {
	switch key {
	case "arch", "arch+", "arch-", "lang", "lang+", "lang-", "target", "target+", "target-":
		return true
	}
	return false
}

// parseBool reads a yes/no value the way apt's StringToBool does.
func parseBool(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "yes", "true", "with", "on", "enable", "1":
		return true, true
	case "no", "false", "without", "off", "disable", "0":
		return false, true
	}
	return false, false
}

const keyBlockStart = "-----BEGIN PGP PUBLIC KEY BLOCK-----"

// normalizeKey turns an inline key block as written in a deb822 field
// (lines indented, empty lines written ".") back into armored text.
func normalizeKey(v string) string {
	var lines []string
	for line := range strings.SplitSeq(v, "\n") {
		line = strings.TrimSpace(line)
		if line == "." {
			line = ""
		}
		lines = append(lines, line)
	}
	for len(lines) > 0 && lines[0] == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n") + "\n"
}

// setOption records option key=value on s, decoding the options that have
// a field of their own. value is in one-line form (lists comma-separated).
func (s *Source) setOption(key, value string) error {
	switch key {
	case "arch":
		archs := splitList(value)
		if len(archs) == 0 {
			return fmt.Errorf("option arch lists no architecture")
		}
		s.Architectures = archs
		value = strings.Join(archs, ",")
	case "arch+", "arch-", "lang", "lang+", "lang-", "target", "target+", "target-":
		// The other multi-value options: normalised, otherwise kept.
		items := splitList(value)
		if len(items) == 0 {
			return fmt.Errorf("option %s lists no value", key)
		}
		value = strings.Join(items, ",")
	case "signed-by":
		if strings.Contains(value, keyBlockStart) {
			s.SignedByKey, s.SignedBy = normalizeKey(value), nil
			value = s.SignedByKey
			break
		}
		// apt accepts commas and blanks between keyrings and fingerprints.
		items := strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
		if len(items) == 0 {
			return fmt.Errorf("option signed-by names no keyring or fingerprint")
		}
		s.SignedBy, s.SignedByKey = items, ""
		value = strings.Join(items, ",")
	case "check-valid-until", "trusted":
		b, ok := parseBool(value)
		if !ok {
			return fmt.Errorf("option %s: %q is not yes or no", key, value)
		}
		t := No
		if b {
			t = Yes
		}
		if key == "trusted" {
			s.Trusted = t
		} else {
			s.CheckValidUntil = t
		}
		value = t.String()
	case "valid-until-min", "valid-until-max":
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n <= 0 || n > int64(100*365*24*time.Hour/time.Second) {
			return fmt.Errorf("option %s: %q is not a positive number of seconds", key, value)
		}
		d := time.Duration(n) * time.Second
		if key == "valid-until-min" {
			s.ValidUntilMin = d
		} else {
			s.ValidUntilMax = d
		}
		value = strconv.FormatInt(n, 10)
	}
	if s.Options == nil {
		s.Options = make(map[string]string)
	}
	s.Options[key] = value
	return nil
}
