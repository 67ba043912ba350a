// Package aesgcm makes AES-256-GCM AEADs whose Open is faster than
// crypto/cipher's on processors with 256-bit vector AES and carry-less
// multiplication (VAES and VPCLMULQDQ with AVX2), which crypto/cipher does
// not use: two blocks per instruction, sixteen blocks per round of the
// loop. Seal, and Open on any other processor, are crypto/cipher's.
//
// Opening is what reading encrypted objects at rest costs; their writing
// already overlaps sealing with the upload, so only Open is widened. The
// construction is standard GCM (a 12-byte nonce, a 16-byte tag), so what
// one implementation seals the other opens. In FIPS 140 mode, or built
// with the purego tag, New returns crypto/cipher's AEAD alone.
package aesgcm

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
)

const (
	blockSize = 16
	nonceSize = 12
	tagSize   = 16
)

// New returns an AES-256-GCM AEAD with a 12-byte nonce and a 16-byte tag
// for a 32-byte key.
func New(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("aesgcm: key of %d bytes, want 32", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aesgcm: %w", err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("aesgcm: %w", err)
	}
	if !wide {
		return g, nil
	}
	return newWide(g, b, key), nil
}
