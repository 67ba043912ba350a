//go:build amd64 && !purego

package aesgcm

import (
	"bytes"
	"crypto/aes"
	"testing"
)

// A counter near its 32-bit wrap wraps within the low 32 bits, as GCM's
// increment does, in the vector loop and after it.
func TestCounterWraps(t *testing.T) {
	needWide(t)
	key := bytes.Repeat([]byte{7}, 32)
	w := mustNew(t, key).(*wideGCM)
	for _, start := range []uint32{0xfffffffa, 0xffffffff, 0xfffffff0} {
		ctr := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, byte(start >> 24), byte(start >> 16), byte(start >> 8), byte(start)}
		src := bytes.Repeat([]byte{0xab}, 3*chunk)
		got := make([]byte, len(src))
		var acc [16]byte
		c := ctr
		openChunks(&w.keys, &w.htab, &c, &acc, &got[0], &src[0], 3)
		want := make([]byte, len(src))
		b, _ := aes.NewCipher(key)
		k := ctr
		var ks [16]byte
		for i := 0; i < len(src); i += blockSize {
			b.Encrypt(ks[:], k[:])
			for j := range ks {
				want[i+j] = src[i+j] ^ ks[j]
			}
			v := uint32(k[12])<<24 | uint32(k[13])<<16 | uint32(k[14])<<8 | uint32(k[15])
			v++
			k[12], k[13], k[14], k[15] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("counter from %#x: keystream differs", start)
		}
		if c != k {
			t.Fatalf("counter from %#x: left at %x, want %x", start, c, k)
		}
		// The hash is the ciphertext's, as the one-block routine makes it.
		var one [16]byte
		ghashBlocks(&w.htab[len(w.htab)-1], &one, &src[0], len(src)/blockSize)
		if acc != one {
			t.Fatalf("counter from %#x: hash %x, one block at a time %x", start, acc, one)
		}
	}
}
