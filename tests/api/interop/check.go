// Reads an auditgraph tenant's log as any C2SP client would, with Go's
// golang.org/x/mod/sumdb/tlog and note: the checkpoint must verify under the
// log's key and carry a valid cosignature/v1 by the witness; every tile read
// is checked against the checkpoint's root by tlog's TileHashReader; the leaf
// hashes read through the tiles must be the expected ones.
//
// Usage: go run check.go BASE_URL API_KEY LOG_VKEY WITNESS_VKEY LEAVES_FILE
package main

import (
	"bufio"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// cosigner verifies c2sp.org/tlog-cosignature Ed25519 cosignatures (type 0x04).
type cosigner struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (c cosigner) Name() string    { return c.name }
func (c cosigner) KeyHash() uint32 { return c.hash }
func (c cosigner) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	signed := fmt.Sprintf("cosignature/v1\ntime %d\n%s", t, msg)
	return t > 0 && ed25519.Verify(c.key, []byte(signed), sig[8:])
}

func newCosigner(vkey string) cosigner {
	parts := strings.SplitN(vkey, "+", 3)
	key, err := base64.StdEncoding.DecodeString(parts[2])
	check(err)
	if len(key) != 33 || key[0] != 0x04 {
		fail("not a cosignature/v1 key: %s", vkey)
	}
	sum := sha256.Sum256(append([]byte(parts[0]+"\n"), key...))
	hash := binary.BigEndian.Uint32(sum[:4])
	if fmt.Sprintf("%08x", hash) != parts[1] {
		fail("the key ID does not match: %s", vkey)
	}
	return cosigner{name: parts[0], hash: hash, key: ed25519.PublicKey(key[1:])}
}

// tiles reads tiles from the server's tile endpoints.
type tiles struct{ base, key string }

func (t *tiles) Height() int { return 8 }

func (t *tiles) ReadTiles(list []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(list))
	for i, tile := range list {
		// Go writes tile/8/L/N[.p/W]; C2SP fixes the height and drops it.
		path := strings.TrimPrefix(tile.Path(), "tile/8/")
		data, err := get(t.base+"/v1/log/tile/"+path, t.key)
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (t *tiles) SaveTiles([]tlog.Tile, [][]byte) {}

func get(url, key string) ([]byte, error) {
	req, err := http.NewRequest("GET", url, nil)
	check(err)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s: HTTP %d: %s", url, resp.StatusCode, body)
	}
	return body, nil
}

func check(err error) {
	if err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	base, key, logKey, witnessKey, leavesFile := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5]
	raw, err := get(base+"/v1/log/checkpoint", key)
	check(err)
	logVerifier, err := note.NewVerifier(logKey)
	check(err)
	witness := newCosigner(witnessKey)
	n, err := note.Open(raw, note.VerifierList(logVerifier, witness))
	check(err)
	if len(n.Sigs) != 2 {
		fail("expected the log's signature and the witness's cosignature, verified %d of them", len(n.Sigs))
	}
	lines := strings.Split(n.Text, "\n")
	size, err := strconv.ParseInt(lines[1], 10, 64)
	check(err)
	root, err := tlog.ParseHash(lines[2])
	check(err)
	tree := tlog.Tree{N: size, Hash: root}
	reader := tlog.TileHashReader(tree, &tiles{base: base, key: key})
	got, err := tlog.TreeHash(size, reader)
	check(err)
	if got != root {
		fail("the tiles hash to %v, the checkpoint says %v", got, root)
	}

	file, err := os.Open(leavesFile)
	check(err)
	scanner := bufio.NewScanner(file)
	var indexes []int64
	var expected []tlog.Hash
	for i := int64(0); scanner.Scan(); i++ {
		h, err := tlog.ParseHash(scanner.Text())
		check(err)
		indexes = append(indexes, tlog.StoredHashIndex(0, i))
		expected = append(expected, h)
	}
	if int64(len(expected)) != size {
		fail("%d leaves expected, the checkpoint has %d", len(expected), size)
	}
	hashes, err := reader.ReadHashes(indexes)
	check(err)
	for i := range expected {
		if hashes[i] != expected[i] {
			fail("leaf %d: the tiles hold %v, the event's leaf hash is %v", i, hashes[i], expected[i])
		}
	}
	last := size - 1
	proof, err := tlog.ProveRecord(size, last, reader)
	check(err)
	check(tlog.CheckRecord(proof, size, root, last, expected[last]))
	fmt.Printf("ok: %d leaves, %d signatures\n", size, len(n.Sigs))
}
