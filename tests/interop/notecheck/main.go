// notecheck verifies a signed note with Go's golang.org/x/mod/sumdb/note, an
// implementation we did not write. Input (stdin, JSON): the note, the log's verifier
// keys and the witnesses' (cosignature v1) verifier keys. Output (stdout, JSON): the
// names whose signatures verified, the checkpoint's lines, or the error.
package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

type input struct {
	Note      string   `json:"note"`
	Keys      []string `json:"keys"`
	Cosigners []string `json:"cosigners"`
}

type output struct {
	Verified []string `json:"verified"`
	Origin   string   `json:"origin"`
	Size     uint64   `json:"size"`
	Root     string   `json:"root"`
	Error    string   `json:"error,omitempty"`
}

// cosigner checks tlog-cosignature v1 (timestamped Ed25519, type 0x04), written from
// the C2SP text; x/mod's note package knows only type 0x01.
type cosigner struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (c cosigner) Name() string    { return c.name }
func (c cosigner) KeyHash() uint32 { return c.hash }
func (c cosigner) Verify(msg, sig []byte) bool {
	if len(sig) != 72 {
		return false
	}
	t := binary.BigEndian.Uint64(sig[:8])
	signed := append([]byte("cosignature/v1\ntime "+strconv.FormatUint(t, 10)+"\n"), msg...)
	return ed25519.Verify(c.key, signed, sig[8:])
}

func newCosigner(vkey string) (note.Verifier, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, errors.New("bad cosigner key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 33 || raw[0] != 0x04 {
		return nil, errors.New("bad cosigner key material")
	}
	h := sha256.Sum256(append([]byte(parts[0]+"\n"), raw...))
	want := binary.BigEndian.Uint32(h[:4])
	if fmt.Sprintf("%08x", want) != parts[1] {
		return nil, errors.New("cosigner key id does not match")
	}
	return cosigner{parts[0], want, ed25519.PublicKey(raw[1:])}, nil
}

func run(in input) (output, error) {
	var verifiers []note.Verifier
	for _, k := range in.Keys {
		v, err := note.NewVerifier(k)
		if err != nil {
			return output{}, err
		}
		verifiers = append(verifiers, v)
	}
	for _, k := range in.Cosigners {
		v, err := newCosigner(k)
		if err != nil {
			return output{}, err
		}
		verifiers = append(verifiers, v)
	}
	n, err := note.Open([]byte(in.Note), note.VerifierList(verifiers...))
	if err != nil {
		return output{}, err
	}
	out := output{Verified: []string{}}
	for _, s := range n.Sigs {
		out.Verified = append(out.Verified, s.Name)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		return out, errors.New("checkpoint has fewer than three lines")
	}
	out.Origin, out.Root = lines[0], lines[2]
	out.Size, err = strconv.ParseUint(lines[1], 10, 64)
	return out, err
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Println(`{"error": "bad input"}`)
		os.Exit(2)
	}
	out, err := run(in)
	if err != nil {
		out.Error = err.Error()
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}
