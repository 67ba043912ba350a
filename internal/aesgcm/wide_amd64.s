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
DATA two<>+0(SB)/8, $2
DATA two<>+8(SB)/8, $0
GLOBL two<>(SB), RODATA|NOPTR, $16

// func cpuid7() (ebx, ecx uint32)
TEXT ·cpuid7(SB), NOSPLIT, $0-8
	MOVL $7, AX
	MOVL $0, CX
	CPUID
	MOVL BX, ebx+0(FP)
	MOVL CX, ecx+4(FP)
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

// ROUND applies the round key at off(AX) to the four pairs of blocks.
#define ROUND(off) \
	VMOVDQU off(AX), Y4     \
	VAESENC Y4, Y0, Y0      \
	VAESENC Y4, Y1, Y1      \
	VAESENC Y4, Y2, Y2      \
	VAESENC Y4, Y3, Y3

// HASHPAIR multiplies the blocks off(SI) (byte-reversed) by the powers at
// off(BX), adding the products' low, high and middle parts to Y5, Y6, Y7.
#define HASHPAIR(off) \
	VMOVDQU off(SI), Y8              \
	VPSHUFB Y15, Y8, Y8              \
	VMOVDQU off(BX), Y9              \
	VPCLMULQDQ $0x00, Y9, Y8, Y10    \
	VPXOR Y10, Y5, Y5                \
	VPCLMULQDQ $0x11, Y9, Y8, Y10    \
	VPXOR Y10, Y6, Y6                \
	VPCLMULQDQ $0x01, Y9, Y8, Y10    \
	VPXOR Y10, Y7, Y7                \
	VPCLMULQDQ $0x10, Y9, Y8, Y10    \
	VPXOR Y10, Y7, Y7

// func openChunks(keys *[15][32]byte, htab *[8][16]byte, ctr, acc *[16]byte, dst, src *byte, n int)
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

	VBROADCASTI128 bswap<>(SB), Y15
	VBROADCASTI128 two<>(SB), Y13
	VMOVDQU poly<>(SB), X11
	// Y14: the next two counter blocks, byte-reversed, so that the
	// counter is the low 32 bits of each lane.
	VMOVDQU (CX), X0
	VPSHUFB X15, X0, X0
	VINSERTI128 $1, X0, Y0, Y14
	VPADDD lanes<>(SB), Y14, Y14
	VMOVDQU (DX), X12

openLoop:
	VPSHUFB Y15, Y14, Y0
	VPADDD Y13, Y14, Y14
	VPSHUFB Y15, Y14, Y1
	VPADDD Y13, Y14, Y14
	VPSHUFB Y15, Y14, Y2
	VPADDD Y13, Y14, Y14
	VPSHUFB Y15, Y14, Y3
	VPADDD Y13, Y14, Y14
	VMOVDQU 0(AX), Y4
	VPXOR Y4, Y0, Y0
	VPXOR Y4, Y1, Y1
	VPXOR Y4, Y2, Y2
	VPXOR Y4, Y3, Y3

	// The hash of the first pair, which takes the running hash.
	VMOVDQU 0(SI), Y8
	VPSHUFB Y15, Y8, Y8
	VPXOR Y12, Y8, Y8
	VMOVDQU 0(BX), Y9
	VPCLMULQDQ $0x00, Y9, Y8, Y5
	VPCLMULQDQ $0x11, Y9, Y8, Y6
	VPCLMULQDQ $0x01, Y9, Y8, Y7
	VPCLMULQDQ $0x10, Y9, Y8, Y10
	VPXOR Y10, Y7, Y7
	ROUND(32)
	ROUND(64)
	HASHPAIR(32)
	ROUND(96)
	ROUND(128)
	HASHPAIR(64)
	ROUND(160)
	ROUND(192)
	HASHPAIR(96)
	ROUND(224)
	ROUND(256)

	// Fold the lanes, then the middle part, then reduce.
	VEXTRACTI128 $1, Y5, X10
	VPXOR X10, X5, X5
	VEXTRACTI128 $1, Y6, X10
	VPXOR X10, X6, X6
	VEXTRACTI128 $1, Y7, X10
	VPXOR X10, X7, X7
	ROUND(288)
	VPSLLDQ $8, X7, X10
	VPXOR X10, X5, X5
	VPSRLDQ $8, X7, X7
	VPXOR X7, X6, X6
	ROUND(320)
	REDUCE(X5, X6, X12)
	ROUND(352)
	ROUND(384)
	ROUND(416)
	VMOVDQU 448(AX), Y4
	VAESENCLAST Y4, Y0, Y0
	VAESENCLAST Y4, Y1, Y1
	VAESENCLAST Y4, Y2, Y2
	VAESENCLAST Y4, Y3, Y3

	VPXOR 0(SI), Y0, Y0
	VPXOR 32(SI), Y1, Y1
	VPXOR 64(SI), Y2, Y2
	VPXOR 96(SI), Y3, Y3
	VMOVDQU Y0, 0(DI)
	VMOVDQU Y1, 32(DI)
	VMOVDQU Y2, 64(DI)
	VMOVDQU Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ R8
	JNZ  openLoop

	VPSHUFB X15, X14, X0
	VMOVDQU X0, (CX)
	VMOVDQU X12, (DX)
	VZEROUPPER

openDone:
	RET
