//go:build amd64 && !purego

#include "textflag.h"

// Byte reversal of each 128-bit lane, for VPSHUFB.
DATA bswap<>+0(SB)/8, $0x08090a0b0c0d0e0f
DATA bswap<>+8(SB)/8, $0x0001020304050607
GLOBL bswap<>(SB), RODATA|NOPTR, $16

// The reduction constant: x^128 + x^127 + x^126 + x^121 + 1 in the
// byte-reversed form, of which the high 64 bits are used.
DATA poly<>+0(SB)/8, $0x0000000000000001
DATA poly<>+8(SB)/8, $0xc200000000000000
GLOBL poly<>(SB), RODATA|NOPTR, $16

// Counter offsets of the two lanes of the first pair, then the step.
DATA lanes<>+0(SB)/8, $0
DATA lanes<>+8(SB)/8, $0
DATA lanes<>+16(SB)/8, $1
DATA lanes<>+24(SB)/8, $0
GLOBL lanes<>(SB), RODATA|NOPTR, $32

// func cpuid7() (ebx, ecx uint32)
TEXT ·cpuid7(SB), NOSPLIT, $0-8
	MOVL $7, AX
	MOVL $0, CX
	CPUID
	MOVL BX, ebx+0(FP)
	MOVL CX, ecx+4(FP)
	RET

// func subWord(x uint32) uint32
//
// AESENCLAST on four copies of x is the S-box on each of x's bytes: with
// every column alike, ShiftRows moves nothing, and a zero round key adds
// nothing.
TEXT ·subWord(SB), NOSPLIT, $0-12
	MOVL x+0(FP), AX
	MOVQ AX, X0
	PSHUFD $0, X0, X0
	PXOR X1, X1
	AESENCLAST X1, X0
	MOVQ X0, AX
	MOVL AX, ret+8(FP)
	RET

// REDUCE folds the 256-bit product hi:lo (mid already folded in) into
// dst, with POLY in X11; clobbers lo and X10.
#define REDUCE(lo, hi, dst) \
	VPCLMULQDQ $0x01, lo, X11, X10 \
	VPSHUFD $0x4e, lo, lo          \
	VPXOR X10, lo, lo              \
	VPCLMULQDQ $0x01, lo, X11, X10 \
	VPSHUFD $0x4e, lo, lo          \
	VPXOR X10, lo, lo              \
	VPXOR hi, lo, dst

// func ghashBlocks(h, acc *[16]byte, p *byte, n int)
TEXT ·ghashBlocks(SB), NOSPLIT, $0-32
	MOVQ h+0(FP), AX
	MOVQ acc+8(FP), DX
	MOVQ p+16(FP), SI
	MOVQ n+24(FP), CX
	TESTQ CX, CX
	JZ   ghashDone
	VMOVDQU (AX), X9
	VMOVDQU (DX), X12
	VMOVDQU bswap<>(SB), X15
	VMOVDQU poly<>(SB), X11

ghashLoop:
	VMOVDQU (SI), X8
	VPSHUFB X15, X8, X8
	VPXOR X12, X8, X8
	VPCLMULQDQ $0x00, X9, X8, X5
	VPCLMULQDQ $0x11, X9, X8, X6
	VPCLMULQDQ $0x01, X9, X8, X7
	VPCLMULQDQ $0x10, X9, X8, X10
	VPXOR X10, X7, X7
	VPSLLDQ $8, X7, X10
	VPXOR X10, X5, X5
	VPSRLDQ $8, X7, X7
	VPXOR X7, X6, X6
	REDUCE(X5, X6, X12)
	ADDQ $16, SI
	DECQ CX
	JNZ  ghashLoop

	VMOVDQU X12, (DX)
	VZEROUPPER

ghashDone:
	RET

// Constants of the 16-block loop, 256 bits wide.
DATA bswap2<>+0(SB)/8, $0x08090a0b0c0d0e0f
DATA bswap2<>+8(SB)/8, $0x0001020304050607
DATA bswap2<>+16(SB)/8, $0x08090a0b0c0d0e0f
DATA bswap2<>+24(SB)/8, $0x0001020304050607
GLOBL bswap2<>(SB), RODATA|NOPTR, $32
DATA two2<>+0(SB)/8, $2
DATA two2<>+8(SB)/8, $0
DATA two2<>+16(SB)/8, $2
DATA two2<>+24(SB)/8, $0
GLOBL two2<>(SB), RODATA|NOPTR, $32

// ROUND applies the round key at off(AX) to the eight pairs of blocks.
#define ROUND(off) \
	VMOVDQU off(AX), Y8     \
	VAESENC Y8, Y0, Y0      \
	VAESENC Y8, Y1, Y1      \
	VAESENC Y8, Y2, Y2      \
	VAESENC Y8, Y3, Y3      \
	VAESENC Y8, Y4, Y4      \
	VAESENC Y8, Y5, Y5      \
	VAESENC Y8, Y6, Y6      \
	VAESENC Y8, Y7, Y7

// HASHPAIR multiplies the blocks off(SI) (byte-reversed) by the powers at
// off(BX), adding the products' low, high and middle parts to Y9, Y10,
// Y11.
#define HASHPAIR(off) \
	VMOVDQU off(SI), Y12             \
	VPSHUFB bswap2<>(SB), Y12, Y12   \
	VMOVDQU off(BX), Y13             \
	VPCLMULQDQ $0x00, Y13, Y12, Y14  \
	VPXOR Y14, Y9, Y9                \
	VPCLMULQDQ $0x11, Y13, Y12, Y14  \
	VPXOR Y14, Y10, Y10              \
	VPCLMULQDQ $0x01, Y13, Y12, Y14  \
	VPXOR Y14, Y11, Y11              \
	VPCLMULQDQ $0x10, Y13, Y12, Y14  \
	VPXOR Y14, Y11, Y11

// COUNTER sets dst to the next pair of counter blocks.
#define COUNTER(dst) \
	VPSHUFB bswap2<>(SB), Y15, dst \
	VPADDD two2<>(SB), Y15, Y15

// XORSTORE decrypts pair r (off = 32*r) into dst.
#define XORSTORE(r, off) \
	VPXOR off(SI), r, r \
	VMOVDQU r, off(DI)

// func openChunks(keys *[15][32]byte, htab *[16][16]byte, ctr, acc *[16]byte, dst, src *byte, n int)
//
// Sixteen blocks a round: eight independent chains of AES rounds keep
// the AES units busy while this chunk's ciphertext is hashed.
TEXT ·openChunks(SB), NOSPLIT, $0-56
	MOVQ keys+0(FP), AX
	MOVQ htab+8(FP), BX
	MOVQ ctr+16(FP), CX
	MOVQ acc+24(FP), DX
	MOVQ dst+32(FP), DI
	MOVQ src+40(FP), SI
	MOVQ n+48(FP), R8
	TESTQ R8, R8
	JZ   openDone

	// Y15: the next two counter blocks, byte-reversed, so that the
	// counter is the low 32 bits of each lane.
	VMOVDQU (CX), X0
	VPSHUFB bswap<>(SB), X0, X0
	VINSERTI128 $1, X0, Y0, Y15
	VPADDD lanes<>(SB), Y15, Y15

openLoop:
	COUNTER(Y0)
	COUNTER(Y1)
	COUNTER(Y2)
	COUNTER(Y3)
	COUNTER(Y4)
	COUNTER(Y5)
	COUNTER(Y6)
	COUNTER(Y7)
	VMOVDQU 0(AX), Y8
	VPXOR Y8, Y0, Y0
	VPXOR Y8, Y1, Y1
	VPXOR Y8, Y2, Y2
	VPXOR Y8, Y3, Y3
	VPXOR Y8, Y4, Y4
	VPXOR Y8, Y5, Y5
	VPXOR Y8, Y6, Y6
	VPXOR Y8, Y7, Y7

	// The first pair takes the running hash (a 128-bit load leaves the
	// upper lane zero).
	VMOVDQU 0(SI), Y12
	VPSHUFB bswap2<>(SB), Y12, Y12
	VMOVDQU (DX), X13
	VPXOR Y13, Y12, Y12
	VMOVDQU 0(BX), Y13
	VPCLMULQDQ $0x00, Y13, Y12, Y9
	VPCLMULQDQ $0x11, Y13, Y12, Y10
	VPCLMULQDQ $0x01, Y13, Y12, Y11
	VPCLMULQDQ $0x10, Y13, Y12, Y14
	VPXOR Y14, Y11, Y11
	ROUND(32)
	HASHPAIR(32)
	ROUND(64)
	HASHPAIR(64)
	ROUND(96)
	HASHPAIR(96)
	ROUND(128)
	HASHPAIR(128)
	ROUND(160)
	HASHPAIR(160)
	ROUND(192)
	HASHPAIR(192)
	ROUND(224)
	HASHPAIR(224)
	ROUND(256)

	// Fold the lanes, then the middle part, then reduce.
	VEXTRACTI128 $1, Y9, X14
	VPXOR X14, X9, X9
	VEXTRACTI128 $1, Y10, X14
	VPXOR X14, X10, X10
	VEXTRACTI128 $1, Y11, X14
	VPXOR X14, X11, X11
	ROUND(288)
	VPSLLDQ $8, X11, X14
	VPXOR X14, X9, X9
	VPSRLDQ $8, X11, X11
	VPXOR X11, X10, X10
	ROUND(320)
	VPCLMULQDQ $0x10, poly<>(SB), X9, X14
	VPSHUFD $0x4e, X9, X9
	VPXOR X14, X9, X9
	ROUND(352)
	VPCLMULQDQ $0x10, poly<>(SB), X9, X14
	VPSHUFD $0x4e, X9, X9
	VPXOR X14, X9, X9
	VPXOR X10, X9, X9
	VMOVDQU X9, (DX)
	ROUND(384)
	ROUND(416)
	VMOVDQU 448(AX), Y8
	VAESENCLAST Y8, Y0, Y0
	VAESENCLAST Y8, Y1, Y1
	VAESENCLAST Y8, Y2, Y2
	VAESENCLAST Y8, Y3, Y3
	VAESENCLAST Y8, Y4, Y4
	VAESENCLAST Y8, Y5, Y5
	VAESENCLAST Y8, Y6, Y6
	VAESENCLAST Y8, Y7, Y7

	// Every source byte of the round has been read for the hash; the
	// plaintext may now overwrite it.
	XORSTORE(Y0, 0)
	XORSTORE(Y1, 32)
	XORSTORE(Y2, 64)
	XORSTORE(Y3, 96)
	XORSTORE(Y4, 128)
	XORSTORE(Y5, 160)
	XORSTORE(Y6, 192)
	XORSTORE(Y7, 224)
	ADDQ $256, SI
	ADDQ $256, DI
	DECQ R8
	JNZ  openLoop

	VPSHUFB bswap<>(SB), X15, X0
	VMOVDQU X0, (CX)
	VZEROUPPER

openDone:
	RET
