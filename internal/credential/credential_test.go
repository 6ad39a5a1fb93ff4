package credential

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// known holds answers computed outside Go, with
//
//	printf 'pi2pi-passcode-v1\0%s\0%s' "$user" "$digits" | sha256sum
//
// and checked against Python's hashlib. A change here breaks every enrolled
// user: the server stores hashes of exactly these strings.
var known = []struct {
	user, digits, want string
}{
	{"ali", "1234", "dd6c7168de50665e0fcd5edce14f8a4cd571a6b1340ed4ae408ea5a6ad1dd24a"},
	{"ali", "0", "a1d8fdc84743cbee9dac3afa022b4523f70fa34b5f1e9fed4c66da3305c7351c"},
	{"ali", "00123", "43031400f327804760e6103c4566c66952931861b0e62a594dd8a2b1de149c1c"},
	{"bianca", "1234", "a8836c1266e583067fd50f053560e1d22d35184ce800dec539c4bc57b62348c5"},
	{"bianca", "0", "97ceb190582aaa65f591af8265f8469e4b62ad9056f3f5aa5055ff2225d2b0c9"},
	{"bianca", "00123", "2371514d45a43c4f28816fa33a04990460c927c2afacd92d42ef41fbc04975b0"},
	{"", "", "7dff37994f785348d00da8f44cd6652a0c92035f4875caaeba8055a5cfc01eb5"},
}

func TestFromDigitsKnownAnswers(t *testing.T) {
	for _, k := range known {
		if got := FromDigits(k.user, []byte(k.digits)); got != k.want {
			t.Errorf("FromDigits(%q, %q) = %s, want %s", k.user, k.digits, got, k.want)
		}
	}
}

// TestFromDigitsPython recomputes the construction with Python's hashlib,
// as a course-style terminal written in Python would, when python3 is
// installed.
func TestFromDigitsPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed (apt-get install python3); the constants above still pin the construction")
	}
	const script = `import hashlib, sys
for arg in sys.argv[1:]:
    user, digits = arg.split(":")
    print(hashlib.sha256(b"pi2pi-passcode-v1\x00" + user.lower().encode() + b"\x00" + digits.encode()).hexdigest())
`
	args := []string{"-c", script}
	cases := [][2]string{{"ali", "1234"}, {"Ali", "1234"}, {"bianca", "99"}, {"first.last_9-x", "01234567890123456789012345678901"}}
	for _, c := range cases {
		args = append(args, c[0]+":"+c[1])
	}
	out, err := exec.Command(py, args...).Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	lines := strings.Fields(string(out))
	if len(lines) != len(cases) {
		t.Fatalf("python3 printed %q", out)
	}
	for i, c := range cases {
		if got := FromDigits(c[0], []byte(c[1])); got != lines[i] {
			t.Errorf("FromDigits(%q, %q) = %s, python says %s", c[0], c[1], got, lines[i])
		}
	}
}

func TestFromDigitsProperties(t *testing.T) {
	hexRE := regexp.MustCompile(`^[0-9a-f]{64}$`)
	a := FromDigits("ali", []byte("1234"))
	if !hexRE.MatchString(a) {
		t.Fatalf("credential %q is not 64 lower-case hex digits", a)
	}
	// The same PIN differs per user: a table of PIN hashes for one user
	// says nothing about another.
	if b := FromDigits("bianca", []byte("1234")); b == a {
		t.Error("same PIN gives the same credential for two users")
	}
	// User IDs are case-insensitive, as on the wire.
	if b := FromDigits("ALI", []byte("1234")); b != a {
		t.Error("credential depends on the case of the user ID")
	}
	// The separators keep (user, digits) pairs apart: "ali1"+"234" is not
	// "ali"+"1234".
	if b := FromDigits("ali1", []byte("234")); b == a {
		t.Error("user ID and digits are not separated")
	}
	// Leading zeros count: the passcode is a string, not a number.
	if FromDigits("ali", []byte("0123")) == FromDigits("ali", []byte("123")) {
		t.Error("leading zeros are lost")
	}
	// Different digits, different credential.
	seen := map[string]string{}
	for _, d := range []string{"0", "1", "00", "01", "10", "1234", "12345", "4321"} {
		c := FromDigits("ali", []byte(d))
		if prev, ok := seen[c]; ok {
			t.Errorf("digits %q and %q give the same credential", prev, d)
		}
		seen[c] = d
	}
	// The digits slice is not modified (callers wipe it afterwards).
	digits := []byte("1234")
	FromDigits("ali", digits)
	if string(digits) != "1234" {
		t.Error("FromDigits modified its input")
	}
}

func BenchmarkFromDigits(b *testing.B) {
	d := []byte("1234")
	for b.Loop() {
		FromDigits("ali", d)
	}
}
