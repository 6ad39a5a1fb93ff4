package deploy

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// SystemOnly lists the unit settings that a user manager cannot apply and
// that UserUnit therefore drops: identities (a user manager runs everything
// as its own user), the device cgroup, and socket ownership.
var SystemOnly = []string{
	"User", "Group", "SupplementaryGroups", "DynamicUser",
	"DevicePolicy", "DeviceAllow",
	"SocketUser", "SocketGroup",
}

// UserOptions says how to adapt a system unit for a user manager.
type UserOptions struct {
	// Replace is a list of old, new pairs applied to every value, e.g. the
	// installed binary to a freshly built one, /etc/pi2pi to a test
	// directory.
	Replace []string
	// Set gives new values to settings, by "Section.Key": all existing
	// values of that key are replaced by this one, or the setting is added
	// at the end of its section.
	Set map[string]string
	// Append adds "Key=Value" lines at the end of a section, by section
	// name.
	Append map[string][]string
}

// UserUnit returns the system unit text adapted for a systemd user
// manager: SystemOnly settings are dropped, WantedBy=multi-user.target
// becomes default.target, and opt's replacements, settings and additions
// are applied. Comments and everything else stay as they are.
func UserUnit(system []byte, opt UserOptions) ([]byte, error) {
	if len(opt.Replace)%2 != 0 {
		return nil, fmt.Errorf("UserOptions.Replace needs old, new pairs, got %d strings", len(opt.Replace))
	}
	replace := strings.NewReplacer(opt.Replace...)
	drop := map[string]bool{}
	for _, k := range SystemOnly {
		drop[k] = true
	}
	pending := map[string]string{} // Set entries not yet written, by Section.Key
	for k, v := range opt.Set {
		if !strings.Contains(k, ".") {
			return nil, fmt.Errorf("UserOptions.Set key %q is not Section.Key", k)
		}
		pending[k] = v
	}
	var out bytes.Buffer
	section := ""
	seenSections := map[string]bool{}
	closeSection := func() {
		if section == "" {
			return
		}
		for _, k := range keysWithPrefix(pending, section+".") {
			fmt.Fprintf(&out, "%s=%s\n", strings.TrimPrefix(k, section+"."), pending[k])
			delete(pending, k)
		}
		for _, line := range opt.Append[section] {
			fmt.Fprintln(&out, line)
		}
	}
	written := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(system))
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "[") && strings.HasSuffix(trimmed, "]"):
			closeSection()
			section = strings.Trim(trimmed, "[]")
			seenSections[section] = true
			out.WriteString(line + "\n")
			continue
		case trimmed == "" || strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, ";"):
			out.WriteString(line + "\n")
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("unit line %q is not Key=Value", line)
		}
		key = strings.TrimSpace(key)
		if drop[key] {
			continue
		}
		if key == "WantedBy" {
			value = strings.ReplaceAll(value, "multi-user.target", "default.target")
		}
		full := section + "." + key
		if v, ok := opt.Set[full]; ok {
			if !written[full] {
				fmt.Fprintf(&out, "%s=%s\n", key, v)
				written[full] = true
				delete(pending, full)
			}
			continue
		}
		fmt.Fprintf(&out, "%s=%s\n", key, replace.Replace(value))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	closeSection()
	for k := range pending {
		return nil, fmt.Errorf("UserOptions.Set %q: the unit has no section [%s]", k, strings.SplitN(k, ".", 2)[0])
	}
	for s := range opt.Append {
		if !seenSections[s] {
			return nil, fmt.Errorf("UserOptions.Append: the unit has no section [%s]", s)
		}
	}
	return out.Bytes(), nil
}

// keysWithPrefix returns the keys of m that start with prefix, sorted, so
// that the generated unit does not depend on map order.
func keysWithPrefix(m map[string]string, prefix string) []string {
	var keys []string
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}
