/*
 * The packed-integer operations of the 0F map (PADD, PSUB, PCMP, PACK,
 * PUNPCK, PMUL, PAVG, PMIN/PMAX, PSAD, shifts by a register, logic), for
 * both operand widths: 64-bit MMX registers and 128-bit XMM registers run
 * the same code over 8 or 16 bytes.
 */
#include "accel/emu/simd.h"

int16_t simd_sat16(int32_t v) { return v > 32767 ? 32767 : v < -32768 ? -32768 : v; }
uint16_t simd_satu16(int32_t v) { return v > 65535 ? 65535 : v < 0 ? 0 : v; }
static int8_t sat8(int32_t v) { return v > 127 ? 127 : v < -128 ? -128 : v; }
static uint8_t satu8(int32_t v) { return v > 255 ? 255 : v < 0 ? 0 : v; }

void simd_shift_elems(xmm_t *d, unsigned width, unsigned esz, uint64_t count, int kind)
{
	unsigned bits = esz * 8, n = width / esz, i;

	for (i = 0; i < n; i++) {
		uint64_t v = esz == 2 ? d->w[i] : esz == 4 ? d->d[i] : d->q[i];
		int64_t sv = esz == 2 ? d->sw[i] : esz == 4 ? d->sd[i] : d->sq[i];
		uint64_t r;
		if (kind == 1)
			r = (uint64_t)(sv >> (count >= bits ? bits - 1 : count));
		else if (count >= bits)
			r = 0;
		else
			r = kind == 0 ? v >> count : v << count;
		if (esz == 2) d->w[i] = r;
		else if (esz == 4) d->d[i] = r;
		else d->q[i] = r;
	}
}

/* Interleave the low (high = false) or high halves of d and s. */
static void unpack(xmm_t *r, const xmm_t *d, const xmm_t *s, unsigned width,
		   unsigned esz, bool high)
{
	unsigned n = width / esz / 2, base = high ? n : 0, i;

	for (i = 0; i < n; i++) {
		switch (esz) {
		case 1: r->b[2 * i] = d->b[base + i]; r->b[2 * i + 1] = s->b[base + i]; break;
		case 2: r->w[2 * i] = d->w[base + i]; r->w[2 * i + 1] = s->w[base + i]; break;
		case 4: r->d[2 * i] = d->d[base + i]; r->d[2 * i + 1] = s->d[base + i]; break;
		default: r->q[2 * i] = d->q[base + i]; r->q[2 * i + 1] = s->q[base + i]; break;
		}
	}
}

bool simd_int_op(unsigned op, xmm_t *d, const xmm_t *s, unsigned width)
{
	const unsigned nb = width, nw = width / 2, nd = width / 4, nq = width / 8;
	xmm_t r = *d;
	unsigned i;

	switch (op) {
	case 0x60: unpack(&r, d, s, width, 1, false); break;
	case 0x61: unpack(&r, d, s, width, 2, false); break;
	case 0x62: unpack(&r, d, s, width, 4, false); break;
	case 0x63: for (i = 0; i < nw; i++) { r.sb[i] = sat8(d->sw[i]); r.sb[i + nw] = sat8(s->sw[i]); } break;
	case 0x64: for (i = 0; i < nb; i++) r.b[i] = d->sb[i] > s->sb[i] ? 0xff : 0; break;
	case 0x65: for (i = 0; i < nw; i++) r.w[i] = d->sw[i] > s->sw[i] ? 0xffff : 0; break;
	case 0x66: for (i = 0; i < nd; i++) r.d[i] = d->sd[i] > s->sd[i] ? ~0u : 0; break;
	case 0x67: for (i = 0; i < nw; i++) { r.b[i] = satu8(d->sw[i]); r.b[i + nw] = satu8(s->sw[i]); } break;
	case 0x68: unpack(&r, d, s, width, 1, true); break;
	case 0x69: unpack(&r, d, s, width, 2, true); break;
	case 0x6a: unpack(&r, d, s, width, 4, true); break;
	case 0x6b: for (i = 0; i < nd; i++) { r.sw[i] = simd_sat16(d->sd[i]); r.sw[i + nd] = simd_sat16(s->sd[i]); } break;
	case 0x6c: if (width == 8) return false; unpack(&r, d, s, width, 8, false); break;
	case 0x6d: if (width == 8) return false; unpack(&r, d, s, width, 8, true); break;
	case 0x74: for (i = 0; i < nb; i++) r.b[i] = d->b[i] == s->b[i] ? 0xff : 0; break;
	case 0x75: for (i = 0; i < nw; i++) r.w[i] = d->w[i] == s->w[i] ? 0xffff : 0; break;
	case 0x76: for (i = 0; i < nd; i++) r.d[i] = d->d[i] == s->d[i] ? ~0u : 0; break;
	case 0xd4: for (i = 0; i < nq; i++) r.q[i] = d->q[i] + s->q[i]; break;
	case 0xd5: for (i = 0; i < nw; i++) r.w[i] = (uint16_t)(d->sw[i] * s->sw[i]); break;
	case 0xd8: for (i = 0; i < nb; i++) r.b[i] = satu8(d->b[i] - s->b[i]); break;
	case 0xd9: for (i = 0; i < nw; i++) r.w[i] = simd_satu16(d->w[i] - s->w[i]); break;
	case 0xda: for (i = 0; i < nb; i++) r.b[i] = d->b[i] < s->b[i] ? d->b[i] : s->b[i]; break;
	case 0xdb: for (i = 0; i < nq; i++) r.q[i] = d->q[i] & s->q[i]; break;
	case 0xdc: for (i = 0; i < nb; i++) r.b[i] = satu8(d->b[i] + s->b[i]); break;
	case 0xdd: for (i = 0; i < nw; i++) r.w[i] = simd_satu16(d->w[i] + s->w[i]); break;
	case 0xde: for (i = 0; i < nb; i++) r.b[i] = d->b[i] > s->b[i] ? d->b[i] : s->b[i]; break;
	case 0xdf: for (i = 0; i < nq; i++) r.q[i] = ~d->q[i] & s->q[i]; break;
	case 0xe0: for (i = 0; i < nb; i++) r.b[i] = (d->b[i] + s->b[i] + 1) >> 1; break;
	case 0xe3: for (i = 0; i < nw; i++) r.w[i] = (d->w[i] + s->w[i] + 1) >> 1; break;
	case 0xe4: for (i = 0; i < nw; i++) r.w[i] = ((uint32_t)d->w[i] * s->w[i]) >> 16; break;
	case 0xe5: for (i = 0; i < nw; i++) r.w[i] = (uint16_t)(((int32_t)d->sw[i] * s->sw[i]) >> 16); break;
	case 0xe8: for (i = 0; i < nb; i++) r.sb[i] = sat8(d->sb[i] - s->sb[i]); break;
	case 0xe9: for (i = 0; i < nw; i++) r.sw[i] = simd_sat16(d->sw[i] - s->sw[i]); break;
	case 0xea: for (i = 0; i < nw; i++) r.sw[i] = d->sw[i] < s->sw[i] ? d->sw[i] : s->sw[i]; break;
	case 0xeb: for (i = 0; i < nq; i++) r.q[i] = d->q[i] | s->q[i]; break;
	case 0xec: for (i = 0; i < nb; i++) r.sb[i] = sat8(d->sb[i] + s->sb[i]); break;
	case 0xed: for (i = 0; i < nw; i++) r.sw[i] = simd_sat16(d->sw[i] + s->sw[i]); break;
	case 0xee: for (i = 0; i < nw; i++) r.sw[i] = d->sw[i] > s->sw[i] ? d->sw[i] : s->sw[i]; break;
	case 0xef: for (i = 0; i < nq; i++) r.q[i] = d->q[i] ^ s->q[i]; break;
	case 0xf4: for (i = 0; i < nq; i++) r.q[i] = (uint64_t)d->d[2 * i] * s->d[2 * i]; break;
	case 0xf5: for (i = 0; i < nd; i++)
			   r.sd[i] = (int32_t)((uint32_t)((int32_t)d->sw[2 * i] * s->sw[2 * i]) +
					       (uint32_t)((int32_t)d->sw[2 * i + 1] * s->sw[2 * i + 1]));
		   break;
	case 0xf6: /* PSADBW: one sum of absolute differences per 8 bytes */
		for (unsigned h = 0; h < nq; h++) {
			unsigned sum = 0;
			for (i = 0; i < 8; i++) {
				int diff = d->b[h * 8 + i] - s->b[h * 8 + i];
				sum += diff < 0 ? -diff : diff;
			}
			r.q[h] = sum;
		}
		break;
	case 0xf8: for (i = 0; i < nb; i++) r.b[i] = d->b[i] - s->b[i]; break;
	case 0xf9: for (i = 0; i < nw; i++) r.w[i] = d->w[i] - s->w[i]; break;
	case 0xfa: for (i = 0; i < nd; i++) r.d[i] = d->d[i] - s->d[i]; break;
	case 0xfb: for (i = 0; i < nq; i++) r.q[i] = d->q[i] - s->q[i]; break;
	case 0xfc: for (i = 0; i < nb; i++) r.b[i] = d->b[i] + s->b[i]; break;
	case 0xfd: for (i = 0; i < nw; i++) r.w[i] = d->w[i] + s->w[i]; break;
	case 0xfe: for (i = 0; i < nd; i++) r.d[i] = d->d[i] + s->d[i]; break;
	case 0xd1: case 0xe1: case 0xf1: case 0xd2: case 0xe2: case 0xf2: case 0xd3: case 0xf3: {
		unsigned esz = (op & 3) == 1 ? 2 : (op & 3) == 2 ? 4 : 8;
		int kind = (op >> 4) == 0xd ? 0 : (op >> 4) == 0xe ? 1 : 2;
		simd_shift_elems(&r, width, esz, s->q[0], kind);
		break;
	}
	default:
		return false;
	}
	*d = r;
	return true;
}
