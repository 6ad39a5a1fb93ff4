package userstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/pi2pi/pi2pi/internal/wire"
)

// ImportEntry is one good entry of a class's user file.
type ImportEntry struct {
	Line       int    // where its user ID stands in the file
	ID         string // the user ID as written in the file
	Name       string // normalised (lower case)
	Credential string // what the class's terminals send as AUTHREQ passcode
	Key        string // "" when the entry has no key
}

// ImportProblem is one bad entry of a class's user file. It never holds
// the entry's credential or key.
type ImportProblem struct {
	Line int
	ID   string // the user ID (JSON key) as written
	Msg  string
}

func (p ImportProblem) String() string {
	return fmt.Sprintf("line %d: %s: %s", p.Line, shortID(p.ID), p.Msg)
}

const importShape = `want "userid": ["credential", "key"]`

// ParseImport reads a class's user file in the seeds' shape: one JSON
// object mapping user IDs to ["credential", "key"] (the handout's
// `credentials` dictionary, as course servers keep it in user_db.json).
// An entry may also be ["credential"] or a bare "credential" string (the
// handout's dictionary without keys); an empty key is no key.
//
// It returns the good entries in file order and the bad ones: IDs outside
// the allowed characters, malformed values, and duplicates (also those
// that differ only in case; every copy is bad, since nothing tells which
// one is meant). err is set, with the line, only when the file as a whole
// is not such a JSON object; then nothing in it can be trusted.
func ParseImport(data []byte) (entries []ImportEntry, problems []ImportProblem, err error) {
	if data, err = importEncoding(data); err != nil {
		return nil, nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	lines := lineCounter{data: data}
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, importSyntax(&lines, dec, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, fmt.Errorf("line %d: the file is not a JSON object; %s, ... }", lines.at(dec.InputOffset()), "{"+strings.TrimPrefix(importShape, "want "))
	}
	first := map[string]int{} // line of each normalised name's first copy
	dups := map[string][]int{}
	for dec.More() {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, importSyntax(&lines, dec, err)
		}
		id, _ := tok.(string) // object keys are always strings
		// The key as written (after a comma), before encoding/json decoded it.
		keyText := data[before:dec.InputOffset()]
		line := lines.at(dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, importSyntax(&lines, dec, err)
		}
		if msg := rawTextProblem(keyText); msg != "" {
			problems = append(problems, ImportProblem{line, rawLiteral(keyText), "bad user ID: the user ID " + msg})
			continue
		}
		name, nerr := wire.NormalizeUserID(id)
		if nerr != nil {
			problems = append(problems, ImportProblem{line, id, "bad user ID: " + nerr.Error()})
			continue
		}
		if at, seen := first[name]; seen {
			dups[name] = append(dups[name], line)
			problems = append(problems, ImportProblem{line, id, fmt.Sprintf("duplicate: user %s is already on line %d (user IDs are matched without case)", name, at)})
			continue
		}
		first[name] = line
		cred, key, msg := importValue(raw)
		if msg != "" {
			problems = append(problems, ImportProblem{line, id, msg})
			continue
		}
		entries = append(entries, ImportEntry{Line: line, ID: id, Name: name, Credential: cred, Key: key})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, nil, importSyntax(&lines, dec, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("line %d: more after the end of the JSON object", lines.at(dec.InputOffset()))
	}
	entries, problems = dropDuplicates(entries, problems, dups)
	return entries, sortProblems(problems), nil
}

// dropDuplicates takes the first copy of each duplicated user out of
// entries and reports it too.
func dropDuplicates(entries []ImportEntry, problems []ImportProblem, dups map[string][]int) ([]ImportEntry, []ImportProblem) {
	if len(dups) == 0 {
		return entries, problems
	}
	kept := entries[:0]
	for _, e := range entries {
		if again, dup := dups[e.Name]; dup {
			problems = append(problems, ImportProblem{e.Line, e.ID, fmt.Sprintf("user %s appears more than once (again on line %s); none of them is imported", e.Name, joinInts(again))})
			continue
		}
		kept = append(kept, e)
	}
	return kept, problems
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

func sortProblems(p []ImportProblem) []ImportProblem {
	sort.SliceStable(p, func(i, j int) bool { return p[i].Line < p[j].Line })
	return p
}

// rawLiteral is the text of the JSON string literal in text, without its
// quotes and undecoded, to name a user ID that does not decode faithfully.
func rawLiteral(text []byte) string {
	if i, j := bytes.IndexByte(text, '"'), bytes.LastIndexByte(text, '"'); i < j {
		return string(text[i+1 : j])
	}
	return string(text)
}

// importValue reads one entry's value. msg says what is wrong with it.
func importValue(raw json.RawMessage) (cred, key, msg string) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", "", "malformed: " + err.Error()
	}
	var parts []any
	rawParts := []json.RawMessage{raw}
	switch x := v.(type) {
	case string:
		parts = []any{x}
	case []any:
		parts = x
		if err := json.Unmarshal(raw, &rawParts); err != nil {
			return "", "", "malformed: " + err.Error()
		}
	default:
		return "", "", fmt.Sprintf("malformed: the value is %s; %s", jsonKind(v), importShape)
	}
	if len(parts) < 1 || len(parts) > 2 {
		return "", "", fmt.Sprintf("malformed: an array of %d values; %s", len(parts), importShape)
	}
	cred, ok := parts[0].(string)
	if !ok {
		return "", "", fmt.Sprintf("malformed: the credential is %s, not a string (quote it: a number loses its leading zeros)", jsonKind(parts[0]))
	}
	if m := rawTextProblem(rawParts[0]); m != "" {
		return "", "", "bad credential: the credential " + m
	}
	if err := ValidCredential(cred); err != nil {
		return "", "", "bad credential: " + err.Error()
	}
	if len(parts) == 2 {
		if key, ok = parts[1].(string); !ok {
			return "", "", fmt.Sprintf("malformed: the key is %s, not a string", jsonKind(parts[1]))
		}
		if m := rawTextProblem(rawParts[1]); m != "" {
			return "", "", "bad key: the key " + m
		}
		if key != "" {
			if err := ValidKey(key); err != nil {
				return "", "", "bad key: " + err.Error()
			}
		}
	}
	return cred, key, ""
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "true or false"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	}
	return "an object"
}

// importSyntax turns a decoder error into one naming the line.
func importSyntax(lines *lineCounter, dec *json.Decoder, err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("line %d: not valid JSON: %v", lines.at(se.Offset), se)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("line %d: the file ends before its JSON object does", lines.at(int64(len(lines.data))))
	}
	return fmt.Errorf("line %d: %v", lines.at(dec.InputOffset()), err)
}

// lineCounter maps byte offsets, asked in increasing order, to line numbers.
type lineCounter struct {
	data []byte
	off  int64
	line int
}

func (c *lineCounter) at(off int64) int {
	off = min(max(off, 0), int64(len(c.data)))
	if off < c.off {
		c.off, c.line = 0, 0
	}
	c.line += bytes.Count(c.data[c.off:off], []byte{'\n'})
	c.off = off
	return c.line + 1
}
