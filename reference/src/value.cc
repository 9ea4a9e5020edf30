#include "mpipc/value.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iterator>
#include <optional>
#include <ostream>
#include <random>
#include <system_error>

namespace mpipc {

namespace {

// ---------------------------------------------------------------------------------------------
// UTF-8

constexpr size_t kNpos = static_cast<size_t>(-1);

// Decodes the code point at `pos` of `s` (strict UTF-8: no overlong forms, surrogates or values
// above U+10FFFF) and advances `pos`; returns false, `pos` unchanged, when the bytes there are not
// valid UTF-8.
bool NextCodePoint(std::string_view s, size_t& pos, char32_t& cp) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const size_t n = s.size() - pos;
  const unsigned char b0 = byte(pos);
  if (b0 < 0x80) {
    cp = b0;
    pos += 1;
    return true;
  }
  size_t len = 0;
  unsigned char lo = 0x80;  // bounds of the second byte
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return false;
  }
  if (n < len) return false;
  if (byte(pos + 1) < lo || byte(pos + 1) > hi) return false;
  for (size_t i = 2; i < len; ++i) {
    if ((byte(pos + i) & 0xC0) != 0x80) return false;
  }
  char32_t c = b0 & (0x7F >> len);
  for (size_t i = 1; i < len; ++i) c = (c << 6) | (byte(pos + i) & 0x3F);
  cp = c;
  pos += len;
  return true;
}

// The offset of the first byte that is not valid UTF-8, or kNpos.
size_t FindInvalidUtf8(std::string_view s) {
  size_t pos = 0;
  char32_t cp = 0;
  while (pos < s.size()) {
    if (!NextCodePoint(s, pos, cp)) return pos;
  }
  return kNpos;
}

void AppendUtf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string CheckedStr(std::string s) {
  const size_t bad = FindInvalidUtf8(s);
  if (bad != kNpos) {
    static constexpr char kHex[] = "0123456789abcdef";
    const auto b = static_cast<unsigned char>(s[bad]);
    throw ValueError(std::string("str is not valid UTF-8: byte 0x") + kHex[b >> 4] + kHex[b & 15] +
                     " at position " + std::to_string(bad));
  }
  return s;
}

// The code points >= U+0080 for which CPython 3.13's str.isprintable() is false (Unicode 15.1:
// categories Cc, Cf, Cs, Co, Cn, Zl, Zp, Zs), as inclusive ranges. Generated with
//   r, s = [], None
//   for c in range(0x80, 0x110000):
//       p = chr(c).isprintable()
//       if not p and s is None: s = c
//       if p and s is not None: r.append((s, c - 1)); s = None
//   if s is not None: r.append((s, 0x10FFFF))
struct Range {
  char32_t first;
  char32_t last;
};
constexpr Range kNonPrintable[] = {
    {0x80, 0xa0},       {0xad, 0xad},       {0x378, 0x379},     {0x380, 0x383},
    {0x38b, 0x38b},     {0x38d, 0x38d},     {0x3a2, 0x3a2},     {0x530, 0x530},
    {0x557, 0x558},     {0x58b, 0x58c},     {0x590, 0x590},     {0x5c8, 0x5cf},
    {0x5eb, 0x5ee},     {0x5f5, 0x605},     {0x61c, 0x61c},     {0x6dd, 0x6dd},
    {0x70e, 0x70f},     {0x74b, 0x74c},     {0x7b2, 0x7bf},     {0x7fb, 0x7fc},
    {0x82e, 0x82f},     {0x83f, 0x83f},     {0x85c, 0x85d},     {0x85f, 0x85f},
    {0x86b, 0x86f},     {0x88f, 0x897},     {0x8e2, 0x8e2},     {0x984, 0x984},
    {0x98d, 0x98e},     {0x991, 0x992},     {0x9a9, 0x9a9},     {0x9b1, 0x9b1},
    {0x9b3, 0x9b5},     {0x9ba, 0x9bb},     {0x9c5, 0x9c6},     {0x9c9, 0x9ca},
    {0x9cf, 0x9d6},     {0x9d8, 0x9db},     {0x9de, 0x9de},     {0x9e4, 0x9e5},
    {0x9ff, 0xa00},     {0xa04, 0xa04},     {0xa0b, 0xa0e},     {0xa11, 0xa12},
    {0xa29, 0xa29},     {0xa31, 0xa31},     {0xa34, 0xa34},     {0xa37, 0xa37},
    {0xa3a, 0xa3b},     {0xa3d, 0xa3d},     {0xa43, 0xa46},     {0xa49, 0xa4a},
    {0xa4e, 0xa50},     {0xa52, 0xa58},     {0xa5d, 0xa5d},     {0xa5f, 0xa65},
    {0xa77, 0xa80},     {0xa84, 0xa84},     {0xa8e, 0xa8e},     {0xa92, 0xa92},
    {0xaa9, 0xaa9},     {0xab1, 0xab1},     {0xab4, 0xab4},     {0xaba, 0xabb},
    {0xac6, 0xac6},     {0xaca, 0xaca},     {0xace, 0xacf},     {0xad1, 0xadf},
    {0xae4, 0xae5},     {0xaf2, 0xaf8},     {0xb00, 0xb00},     {0xb04, 0xb04},
    {0xb0d, 0xb0e},     {0xb11, 0xb12},     {0xb29, 0xb29},     {0xb31, 0xb31},
    {0xb34, 0xb34},     {0xb3a, 0xb3b},     {0xb45, 0xb46},     {0xb49, 0xb4a},
    {0xb4e, 0xb54},     {0xb58, 0xb5b},     {0xb5e, 0xb5e},     {0xb64, 0xb65},
    {0xb78, 0xb81},     {0xb84, 0xb84},     {0xb8b, 0xb8d},     {0xb91, 0xb91},
    {0xb96, 0xb98},     {0xb9b, 0xb9b},     {0xb9d, 0xb9d},     {0xba0, 0xba2},
    {0xba5, 0xba7},     {0xbab, 0xbad},     {0xbba, 0xbbd},     {0xbc3, 0xbc5},
    {0xbc9, 0xbc9},     {0xbce, 0xbcf},     {0xbd1, 0xbd6},     {0xbd8, 0xbe5},
    {0xbfb, 0xbff},     {0xc0d, 0xc0d},     {0xc11, 0xc11},     {0xc29, 0xc29},
    {0xc3a, 0xc3b},     {0xc45, 0xc45},     {0xc49, 0xc49},     {0xc4e, 0xc54},
    {0xc57, 0xc57},     {0xc5b, 0xc5c},     {0xc5e, 0xc5f},     {0xc64, 0xc65},
    {0xc70, 0xc76},     {0xc8d, 0xc8d},     {0xc91, 0xc91},     {0xca9, 0xca9},
    {0xcb4, 0xcb4},     {0xcba, 0xcbb},     {0xcc5, 0xcc5},     {0xcc9, 0xcc9},
    {0xcce, 0xcd4},     {0xcd7, 0xcdc},     {0xcdf, 0xcdf},     {0xce4, 0xce5},
    {0xcf0, 0xcf0},     {0xcf4, 0xcff},     {0xd0d, 0xd0d},     {0xd11, 0xd11},
    {0xd45, 0xd45},     {0xd49, 0xd49},     {0xd50, 0xd53},     {0xd64, 0xd65},
    {0xd80, 0xd80},     {0xd84, 0xd84},     {0xd97, 0xd99},     {0xdb2, 0xdb2},
    {0xdbc, 0xdbc},     {0xdbe, 0xdbf},     {0xdc7, 0xdc9},     {0xdcb, 0xdce},
    {0xdd5, 0xdd5},     {0xdd7, 0xdd7},     {0xde0, 0xde5},     {0xdf0, 0xdf1},
    {0xdf5, 0xe00},     {0xe3b, 0xe3e},     {0xe5c, 0xe80},     {0xe83, 0xe83},
    {0xe85, 0xe85},     {0xe8b, 0xe8b},     {0xea4, 0xea4},     {0xea6, 0xea6},
    {0xebe, 0xebf},     {0xec5, 0xec5},     {0xec7, 0xec7},     {0xecf, 0xecf},
    {0xeda, 0xedb},     {0xee0, 0xeff},     {0xf48, 0xf48},     {0xf6d, 0xf70},
    {0xf98, 0xf98},     {0xfbd, 0xfbd},     {0xfcd, 0xfcd},     {0xfdb, 0xfff},
    {0x10c6, 0x10c6},   {0x10c8, 0x10cc},   {0x10ce, 0x10cf},   {0x1249, 0x1249},
    {0x124e, 0x124f},   {0x1257, 0x1257},   {0x1259, 0x1259},   {0x125e, 0x125f},
    {0x1289, 0x1289},   {0x128e, 0x128f},   {0x12b1, 0x12b1},   {0x12b6, 0x12b7},
    {0x12bf, 0x12bf},   {0x12c1, 0x12c1},   {0x12c6, 0x12c7},   {0x12d7, 0x12d7},
    {0x1311, 0x1311},   {0x1316, 0x1317},   {0x135b, 0x135c},   {0x137d, 0x137f},
    {0x139a, 0x139f},   {0x13f6, 0x13f7},   {0x13fe, 0x13ff},   {0x1680, 0x1680},
    {0x169d, 0x169f},   {0x16f9, 0x16ff},   {0x1716, 0x171e},   {0x1737, 0x173f},
    {0x1754, 0x175f},   {0x176d, 0x176d},   {0x1771, 0x1771},   {0x1774, 0x177f},
    {0x17de, 0x17df},   {0x17ea, 0x17ef},   {0x17fa, 0x17ff},   {0x180e, 0x180e},
    {0x181a, 0x181f},   {0x1879, 0x187f},   {0x18ab, 0x18af},   {0x18f6, 0x18ff},
    {0x191f, 0x191f},   {0x192c, 0x192f},   {0x193c, 0x193f},   {0x1941, 0x1943},
    {0x196e, 0x196f},   {0x1975, 0x197f},   {0x19ac, 0x19af},   {0x19ca, 0x19cf},
    {0x19db, 0x19dd},   {0x1a1c, 0x1a1d},   {0x1a5f, 0x1a5f},   {0x1a7d, 0x1a7e},
    {0x1a8a, 0x1a8f},   {0x1a9a, 0x1a9f},   {0x1aae, 0x1aaf},   {0x1acf, 0x1aff},
    {0x1b4d, 0x1b4f},   {0x1b7f, 0x1b7f},   {0x1bf4, 0x1bfb},   {0x1c38, 0x1c3a},
    {0x1c4a, 0x1c4c},   {0x1c89, 0x1c8f},   {0x1cbb, 0x1cbc},   {0x1cc8, 0x1ccf},
    {0x1cfb, 0x1cff},   {0x1f16, 0x1f17},   {0x1f1e, 0x1f1f},   {0x1f46, 0x1f47},
    {0x1f4e, 0x1f4f},   {0x1f58, 0x1f58},   {0x1f5a, 0x1f5a},   {0x1f5c, 0x1f5c},
    {0x1f5e, 0x1f5e},   {0x1f7e, 0x1f7f},   {0x1fb5, 0x1fb5},   {0x1fc5, 0x1fc5},
    {0x1fd4, 0x1fd5},   {0x1fdc, 0x1fdc},   {0x1ff0, 0x1ff1},   {0x1ff5, 0x1ff5},
    {0x1fff, 0x200f},   {0x2028, 0x202f},   {0x205f, 0x206f},   {0x2072, 0x2073},
    {0x208f, 0x208f},   {0x209d, 0x209f},   {0x20c1, 0x20cf},   {0x20f1, 0x20ff},
    {0x218c, 0x218f},   {0x2427, 0x243f},   {0x244b, 0x245f},   {0x2b74, 0x2b75},
    {0x2b96, 0x2b96},   {0x2cf4, 0x2cf8},   {0x2d26, 0x2d26},   {0x2d28, 0x2d2c},
    {0x2d2e, 0x2d2f},   {0x2d68, 0x2d6e},   {0x2d71, 0x2d7e},   {0x2d97, 0x2d9f},
    {0x2da7, 0x2da7},   {0x2daf, 0x2daf},   {0x2db7, 0x2db7},   {0x2dbf, 0x2dbf},
    {0x2dc7, 0x2dc7},   {0x2dcf, 0x2dcf},   {0x2dd7, 0x2dd7},   {0x2ddf, 0x2ddf},
    {0x2e5e, 0x2e7f},   {0x2e9a, 0x2e9a},   {0x2ef4, 0x2eff},   {0x2fd6, 0x2fef},
    {0x3000, 0x3000},   {0x3040, 0x3040},   {0x3097, 0x3098},   {0x3100, 0x3104},
    {0x3130, 0x3130},   {0x318f, 0x318f},   {0x31e4, 0x31ee},   {0x321f, 0x321f},
    {0xa48d, 0xa48f},   {0xa4c7, 0xa4cf},   {0xa62c, 0xa63f},   {0xa6f8, 0xa6ff},
    {0xa7cb, 0xa7cf},   {0xa7d2, 0xa7d2},   {0xa7d4, 0xa7d4},   {0xa7da, 0xa7f1},
    {0xa82d, 0xa82f},   {0xa83a, 0xa83f},   {0xa878, 0xa87f},   {0xa8c6, 0xa8cd},
    {0xa8da, 0xa8df},   {0xa954, 0xa95e},   {0xa97d, 0xa97f},   {0xa9ce, 0xa9ce},
    {0xa9da, 0xa9dd},   {0xa9ff, 0xa9ff},   {0xaa37, 0xaa3f},   {0xaa4e, 0xaa4f},
    {0xaa5a, 0xaa5b},   {0xaac3, 0xaada},   {0xaaf7, 0xab00},   {0xab07, 0xab08},
    {0xab0f, 0xab10},   {0xab17, 0xab1f},   {0xab27, 0xab27},   {0xab2f, 0xab2f},
    {0xab6c, 0xab6f},   {0xabee, 0xabef},   {0xabfa, 0xabff},   {0xd7a4, 0xd7af},
    {0xd7c7, 0xd7ca},   {0xd7fc, 0xf8ff},   {0xfa6e, 0xfa6f},   {0xfada, 0xfaff},
    {0xfb07, 0xfb12},   {0xfb18, 0xfb1c},   {0xfb37, 0xfb37},   {0xfb3d, 0xfb3d},
    {0xfb3f, 0xfb3f},   {0xfb42, 0xfb42},   {0xfb45, 0xfb45},   {0xfbc3, 0xfbd2},
    {0xfd90, 0xfd91},   {0xfdc8, 0xfdce},   {0xfdd0, 0xfdef},   {0xfe1a, 0xfe1f},
    {0xfe53, 0xfe53},   {0xfe67, 0xfe67},   {0xfe6c, 0xfe6f},   {0xfe75, 0xfe75},
    {0xfefd, 0xff00},   {0xffbf, 0xffc1},   {0xffc8, 0xffc9},   {0xffd0, 0xffd1},
    {0xffd8, 0xffd9},   {0xffdd, 0xffdf},   {0xffe7, 0xffe7},   {0xffef, 0xfffb},
    {0xfffe, 0xffff},   {0x1000c, 0x1000c}, {0x10027, 0x10027}, {0x1003b, 0x1003b},
    {0x1003e, 0x1003e}, {0x1004e, 0x1004f}, {0x1005e, 0x1007f}, {0x100fb, 0x100ff},
    {0x10103, 0x10106}, {0x10134, 0x10136}, {0x1018f, 0x1018f}, {0x1019d, 0x1019f},
    {0x101a1, 0x101cf}, {0x101fe, 0x1027f}, {0x1029d, 0x1029f}, {0x102d1, 0x102df},
    {0x102fc, 0x102ff}, {0x10324, 0x1032c}, {0x1034b, 0x1034f}, {0x1037b, 0x1037f},
    {0x1039e, 0x1039e}, {0x103c4, 0x103c7}, {0x103d6, 0x103ff}, {0x1049e, 0x1049f},
    {0x104aa, 0x104af}, {0x104d4, 0x104d7}, {0x104fc, 0x104ff}, {0x10528, 0x1052f},
    {0x10564, 0x1056e}, {0x1057b, 0x1057b}, {0x1058b, 0x1058b}, {0x10593, 0x10593},
    {0x10596, 0x10596}, {0x105a2, 0x105a2}, {0x105b2, 0x105b2}, {0x105ba, 0x105ba},
    {0x105bd, 0x105ff}, {0x10737, 0x1073f}, {0x10756, 0x1075f}, {0x10768, 0x1077f},
    {0x10786, 0x10786}, {0x107b1, 0x107b1}, {0x107bb, 0x107ff}, {0x10806, 0x10807},
    {0x10809, 0x10809}, {0x10836, 0x10836}, {0x10839, 0x1083b}, {0x1083d, 0x1083e},
    {0x10856, 0x10856}, {0x1089f, 0x108a6}, {0x108b0, 0x108df}, {0x108f3, 0x108f3},
    {0x108f6, 0x108fa}, {0x1091c, 0x1091e}, {0x1093a, 0x1093e}, {0x10940, 0x1097f},
    {0x109b8, 0x109bb}, {0x109d0, 0x109d1}, {0x10a04, 0x10a04}, {0x10a07, 0x10a0b},
    {0x10a14, 0x10a14}, {0x10a18, 0x10a18}, {0x10a36, 0x10a37}, {0x10a3b, 0x10a3e},
    {0x10a49, 0x10a4f}, {0x10a59, 0x10a5f}, {0x10aa0, 0x10abf}, {0x10ae7, 0x10aea},
    {0x10af7, 0x10aff}, {0x10b36, 0x10b38}, {0x10b56, 0x10b57}, {0x10b73, 0x10b77},
    {0x10b92, 0x10b98}, {0x10b9d, 0x10ba8}, {0x10bb0, 0x10bff}, {0x10c49, 0x10c7f},
    {0x10cb3, 0x10cbf}, {0x10cf3, 0x10cf9}, {0x10d28, 0x10d2f}, {0x10d3a, 0x10e5f},
    {0x10e7f, 0x10e7f}, {0x10eaa, 0x10eaa}, {0x10eae, 0x10eaf}, {0x10eb2, 0x10efc},
    {0x10f28, 0x10f2f}, {0x10f5a, 0x10f6f}, {0x10f8a, 0x10faf}, {0x10fcc, 0x10fdf},
    {0x10ff7, 0x10fff}, {0x1104e, 0x11051}, {0x11076, 0x1107e}, {0x110bd, 0x110bd},
    {0x110c3, 0x110cf}, {0x110e9, 0x110ef}, {0x110fa, 0x110ff}, {0x11135, 0x11135},
    {0x11148, 0x1114f}, {0x11177, 0x1117f}, {0x111e0, 0x111e0}, {0x111f5, 0x111ff},
    {0x11212, 0x11212}, {0x11242, 0x1127f}, {0x11287, 0x11287}, {0x11289, 0x11289},
    {0x1128e, 0x1128e}, {0x1129e, 0x1129e}, {0x112aa, 0x112af}, {0x112eb, 0x112ef},
    {0x112fa, 0x112ff}, {0x11304, 0x11304}, {0x1130d, 0x1130e}, {0x11311, 0x11312},
    {0x11329, 0x11329}, {0x11331, 0x11331}, {0x11334, 0x11334}, {0x1133a, 0x1133a},
    {0x11345, 0x11346}, {0x11349, 0x1134a}, {0x1134e, 0x1134f}, {0x11351, 0x11356},
    {0x11358, 0x1135c}, {0x11364, 0x11365}, {0x1136d, 0x1136f}, {0x11375, 0x113ff},
    {0x1145c, 0x1145c}, {0x11462, 0x1147f}, {0x114c8, 0x114cf}, {0x114da, 0x1157f},
    {0x115b6, 0x115b7}, {0x115de, 0x115ff}, {0x11645, 0x1164f}, {0x1165a, 0x1165f},
    {0x1166d, 0x1167f}, {0x116ba, 0x116bf}, {0x116ca, 0x116ff}, {0x1171b, 0x1171c},
    {0x1172c, 0x1172f}, {0x11747, 0x117ff}, {0x1183c, 0x1189f}, {0x118f3, 0x118fe},
    {0x11907, 0x11908}, {0x1190a, 0x1190b}, {0x11914, 0x11914}, {0x11917, 0x11917},
    {0x11936, 0x11936}, {0x11939, 0x1193a}, {0x11947, 0x1194f}, {0x1195a, 0x1199f},
    {0x119a8, 0x119a9}, {0x119d8, 0x119d9}, {0x119e5, 0x119ff}, {0x11a48, 0x11a4f},
    {0x11aa3, 0x11aaf}, {0x11af9, 0x11aff}, {0x11b0a, 0x11bff}, {0x11c09, 0x11c09},
    {0x11c37, 0x11c37}, {0x11c46, 0x11c4f}, {0x11c6d, 0x11c6f}, {0x11c90, 0x11c91},
    {0x11ca8, 0x11ca8}, {0x11cb7, 0x11cff}, {0x11d07, 0x11d07}, {0x11d0a, 0x11d0a},
    {0x11d37, 0x11d39}, {0x11d3b, 0x11d3b}, {0x11d3e, 0x11d3e}, {0x11d48, 0x11d4f},
    {0x11d5a, 0x11d5f}, {0x11d66, 0x11d66}, {0x11d69, 0x11d69}, {0x11d8f, 0x11d8f},
    {0x11d92, 0x11d92}, {0x11d99, 0x11d9f}, {0x11daa, 0x11edf}, {0x11ef9, 0x11eff},
    {0x11f11, 0x11f11}, {0x11f3b, 0x11f3d}, {0x11f5a, 0x11faf}, {0x11fb1, 0x11fbf},
    {0x11ff2, 0x11ffe}, {0x1239a, 0x123ff}, {0x1246f, 0x1246f}, {0x12475, 0x1247f},
    {0x12544, 0x12f8f}, {0x12ff3, 0x12fff}, {0x13430, 0x1343f}, {0x13456, 0x143ff},
    {0x14647, 0x167ff}, {0x16a39, 0x16a3f}, {0x16a5f, 0x16a5f}, {0x16a6a, 0x16a6d},
    {0x16abf, 0x16abf}, {0x16aca, 0x16acf}, {0x16aee, 0x16aef}, {0x16af6, 0x16aff},
    {0x16b46, 0x16b4f}, {0x16b5a, 0x16b5a}, {0x16b62, 0x16b62}, {0x16b78, 0x16b7c},
    {0x16b90, 0x16e3f}, {0x16e9b, 0x16eff}, {0x16f4b, 0x16f4e}, {0x16f88, 0x16f8e},
    {0x16fa0, 0x16fdf}, {0x16fe5, 0x16fef}, {0x16ff2, 0x16fff}, {0x187f8, 0x187ff},
    {0x18cd6, 0x18cff}, {0x18d09, 0x1afef}, {0x1aff4, 0x1aff4}, {0x1affc, 0x1affc},
    {0x1afff, 0x1afff}, {0x1b123, 0x1b131}, {0x1b133, 0x1b14f}, {0x1b153, 0x1b154},
    {0x1b156, 0x1b163}, {0x1b168, 0x1b16f}, {0x1b2fc, 0x1bbff}, {0x1bc6b, 0x1bc6f},
    {0x1bc7d, 0x1bc7f}, {0x1bc89, 0x1bc8f}, {0x1bc9a, 0x1bc9b}, {0x1bca0, 0x1ceff},
    {0x1cf2e, 0x1cf2f}, {0x1cf47, 0x1cf4f}, {0x1cfc4, 0x1cfff}, {0x1d0f6, 0x1d0ff},
    {0x1d127, 0x1d128}, {0x1d173, 0x1d17a}, {0x1d1eb, 0x1d1ff}, {0x1d246, 0x1d2bf},
    {0x1d2d4, 0x1d2df}, {0x1d2f4, 0x1d2ff}, {0x1d357, 0x1d35f}, {0x1d379, 0x1d3ff},
    {0x1d455, 0x1d455}, {0x1d49d, 0x1d49d}, {0x1d4a0, 0x1d4a1}, {0x1d4a3, 0x1d4a4},
    {0x1d4a7, 0x1d4a8}, {0x1d4ad, 0x1d4ad}, {0x1d4ba, 0x1d4ba}, {0x1d4bc, 0x1d4bc},
    {0x1d4c4, 0x1d4c4}, {0x1d506, 0x1d506}, {0x1d50b, 0x1d50c}, {0x1d515, 0x1d515},
    {0x1d51d, 0x1d51d}, {0x1d53a, 0x1d53a}, {0x1d53f, 0x1d53f}, {0x1d545, 0x1d545},
    {0x1d547, 0x1d549}, {0x1d551, 0x1d551}, {0x1d6a6, 0x1d6a7}, {0x1d7cc, 0x1d7cd},
    {0x1da8c, 0x1da9a}, {0x1daa0, 0x1daa0}, {0x1dab0, 0x1deff}, {0x1df1f, 0x1df24},
    {0x1df2b, 0x1dfff}, {0x1e007, 0x1e007}, {0x1e019, 0x1e01a}, {0x1e022, 0x1e022},
    {0x1e025, 0x1e025}, {0x1e02b, 0x1e02f}, {0x1e06e, 0x1e08e}, {0x1e090, 0x1e0ff},
    {0x1e12d, 0x1e12f}, {0x1e13e, 0x1e13f}, {0x1e14a, 0x1e14d}, {0x1e150, 0x1e28f},
    {0x1e2af, 0x1e2bf}, {0x1e2fa, 0x1e2fe}, {0x1e300, 0x1e4cf}, {0x1e4fa, 0x1e7df},
    {0x1e7e7, 0x1e7e7}, {0x1e7ec, 0x1e7ec}, {0x1e7ef, 0x1e7ef}, {0x1e7ff, 0x1e7ff},
    {0x1e8c5, 0x1e8c6}, {0x1e8d7, 0x1e8ff}, {0x1e94c, 0x1e94f}, {0x1e95a, 0x1e95d},
    {0x1e960, 0x1ec70}, {0x1ecb5, 0x1ed00}, {0x1ed3e, 0x1edff}, {0x1ee04, 0x1ee04},
    {0x1ee20, 0x1ee20}, {0x1ee23, 0x1ee23}, {0x1ee25, 0x1ee26}, {0x1ee28, 0x1ee28},
    {0x1ee33, 0x1ee33}, {0x1ee38, 0x1ee38}, {0x1ee3a, 0x1ee3a}, {0x1ee3c, 0x1ee41},
    {0x1ee43, 0x1ee46}, {0x1ee48, 0x1ee48}, {0x1ee4a, 0x1ee4a}, {0x1ee4c, 0x1ee4c},
    {0x1ee50, 0x1ee50}, {0x1ee53, 0x1ee53}, {0x1ee55, 0x1ee56}, {0x1ee58, 0x1ee58},
    {0x1ee5a, 0x1ee5a}, {0x1ee5c, 0x1ee5c}, {0x1ee5e, 0x1ee5e}, {0x1ee60, 0x1ee60},
    {0x1ee63, 0x1ee63}, {0x1ee65, 0x1ee66}, {0x1ee6b, 0x1ee6b}, {0x1ee73, 0x1ee73},
    {0x1ee78, 0x1ee78}, {0x1ee7d, 0x1ee7d}, {0x1ee7f, 0x1ee7f}, {0x1ee8a, 0x1ee8a},
    {0x1ee9c, 0x1eea0}, {0x1eea4, 0x1eea4}, {0x1eeaa, 0x1eeaa}, {0x1eebc, 0x1eeef},
    {0x1eef2, 0x1efff}, {0x1f02c, 0x1f02f}, {0x1f094, 0x1f09f}, {0x1f0af, 0x1f0b0},
    {0x1f0c0, 0x1f0c0}, {0x1f0d0, 0x1f0d0}, {0x1f0f6, 0x1f0ff}, {0x1f1ae, 0x1f1e5},
    {0x1f203, 0x1f20f}, {0x1f23c, 0x1f23f}, {0x1f249, 0x1f24f}, {0x1f252, 0x1f25f},
    {0x1f266, 0x1f2ff}, {0x1f6d8, 0x1f6db}, {0x1f6ed, 0x1f6ef}, {0x1f6fd, 0x1f6ff},
    {0x1f777, 0x1f77a}, {0x1f7da, 0x1f7df}, {0x1f7ec, 0x1f7ef}, {0x1f7f1, 0x1f7ff},
    {0x1f80c, 0x1f80f}, {0x1f848, 0x1f84f}, {0x1f85a, 0x1f85f}, {0x1f888, 0x1f88f},
    {0x1f8ae, 0x1f8af}, {0x1f8b2, 0x1f8ff}, {0x1fa54, 0x1fa5f}, {0x1fa6e, 0x1fa6f},
    {0x1fa7d, 0x1fa7f}, {0x1fa89, 0x1fa8f}, {0x1fabe, 0x1fabe}, {0x1fac6, 0x1facd},
    {0x1fadc, 0x1fadf}, {0x1fae9, 0x1faef}, {0x1faf9, 0x1faff}, {0x1fb93, 0x1fb93},
    {0x1fbcb, 0x1fbef}, {0x1fbfa, 0x1ffff}, {0x2a6e0, 0x2a6ff}, {0x2b73a, 0x2b73f},
    {0x2b81e, 0x2b81f}, {0x2cea2, 0x2ceaf}, {0x2ebe1, 0x2ebef}, {0x2ee5e, 0x2f7ff},
    {0x2fa1e, 0x2ffff}, {0x3134b, 0x3134f}, {0x323b0, 0xe00ff}, {0xe01f0, 0x10ffff}};

bool IsPrintable(char32_t cp) {
  // The last range starting at or before cp.
  const Range* it = std::upper_bound(std::begin(kNonPrintable), std::end(kNonPrintable), cp,
                                     [](char32_t c, const Range& r) { return c < r.first; });
  if (it == std::begin(kNonPrintable)) return true;
  --it;
  return cp > it->last;
}

// ---------------------------------------------------------------------------------------------
// Hashing: SipHash-1-3 (CPython's str hash) with a per-process random key.

struct SipKey {
  uint64_t k0;
  uint64_t k1;
};

const SipKey& ProcessSipKey() {
  static const SipKey key = [] {
    SipKey k{};
    try {
      std::random_device rd;
      k.k0 = (uint64_t{rd()} << 32) ^ rd();
      k.k1 = (uint64_t{rd()} << 32) ^ rd();
    } catch (const std::exception&) {
      // No entropy source: fall back to the clock and an address (ASLR).
      k.k0 = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
      k.k1 = reinterpret_cast<uintptr_t>(&k) * 0x9E3779B97F4A7C15ULL;
    }
    return k;
  }();
  return key;
}

uint64_t Load64Le(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint64_t SipHash13(uint64_t k0, uint64_t k1, const void* data, size_t n) {
  uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
  uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
  uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
  uint64_t v3 = k1 ^ 0x7465646279746573ULL;
  const auto round = [&] {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  };
  const auto* p = static_cast<const unsigned char*>(data);
  const size_t blocks = n / 8;
  for (size_t i = 0; i < blocks; ++i) {
    const uint64_t m = Load64Le(p + 8 * i);
    v3 ^= m;
    round();
    v0 ^= m;
  }
  uint64_t last = static_cast<uint64_t>(n) << 56;
  for (size_t i = 0; i < n % 8; ++i) last |= uint64_t{p[8 * blocks + i]} << (8 * i);
  v3 ^= last;
  round();
  v0 ^= last;
  v2 ^= 0xff;
  round();
  round();
  round();
  return v0 ^ v1 ^ v2 ^ v3;
}

// A hash domain per kind of payload, so that e.g. 'a' and b'a' do not collide by construction.
uint64_t HashData(char domain, const void* data, size_t n) {
  const SipKey& key = ProcessSipKey();
  return SipHash13(key.k0 ^ static_cast<unsigned char>(domain), key.k1, data, n);
}

uint64_t HashInt(int64_t i) {
  unsigned char b[8];
  for (int k = 0; k < 8; ++k) {
    b[k] = static_cast<unsigned char>(static_cast<uint64_t>(i) >> (8 * k));
  }
  return HashData('i', b, sizeof b);
}

// Whether `d` is an integer representable as int64_t; stores it in `out`.
bool FloatAsInt(double d, int64_t& out) {
  // -2^63 <= d < 2^63, false for nan.
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return false;
  if (std::trunc(d) != d) return false;
  out = static_cast<int64_t>(d);
  return true;
}

// The hash of a hashable key, consistent with ==; nullopt for an unhashable one, with the name
// of the first unhashable type met in `unhashable`.
std::optional<uint64_t> TryHash(const Value& v, std::string_view& unhashable) {
  switch (v.kind()) {
    case Value::Kind::kNone:
      return HashData('N', nullptr, 0);
    case Value::Kind::kBool:
      return HashInt(v.as_bool() ? 1 : 0);
    case Value::Kind::kInt:
      return HashInt(v.as_int());
    case Value::Kind::kFloat: {
      int64_t i = 0;
      if (FloatAsInt(v.as_float(), i)) return HashInt(i);
      const auto bits = std::bit_cast<uint64_t>(v.as_float());
      return HashData('f', &bits, sizeof bits);
    }
    case Value::Kind::kStr:
      return HashData('s', v.as_str().data(), v.as_str().size());
    case Value::Kind::kBytes:
      return HashData('b', v.as_bytes().data.data(), v.as_bytes().data.size());
    case Value::Kind::kTuple: {
      std::vector<uint64_t> hashes;
      hashes.reserve(v.as_tuple().items.size());
      for (const Value& item : v.as_tuple().items) {
        const std::optional<uint64_t> h = TryHash(item, unhashable);
        if (!h) return std::nullopt;
        hashes.push_back(*h);
      }
      return HashData('t', hashes.data(), hashes.size() * sizeof(uint64_t));
    }
    case Value::Kind::kList:
    case Value::Kind::kDict:
      unhashable = v.type_name();
      return std::nullopt;
  }
  return std::nullopt;
}

uint64_t HashKey(const Value& key) {
  std::string_view unhashable;
  const std::optional<uint64_t> h = TryHash(key, unhashable);
  if (!h) throw TypeError("unhashable type: '" + std::string(unhashable) + "'");
  return *h;
}

// ---------------------------------------------------------------------------------------------
// repr

void AppendHexEscape(std::string& out, char prefix, uint32_t value, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '\\';
  out += prefix;
  for (int i = digits - 1; i >= 0; --i) out += kHex[(value >> (4 * i)) & 15];
}

// The quote CPython picks: ' unless the text has a ' and no ".
char PickQuote(std::string_view s) {
  return s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos ? '"'
                                                                                         : '\'';
}

// The escape of an ASCII character in str and bytes reprs; false when it stands for itself.
bool AppendAsciiEscape(std::string& out, unsigned char c, char quote) {
  if (c == static_cast<unsigned char>(quote) || c == '\\') {
    out += '\\';
    out += static_cast<char>(c);
  } else if (c == '\t') {
    out += "\\t";
  } else if (c == '\n') {
    out += "\\n";
  } else if (c == '\r') {
    out += "\\r";
  } else if (c < 0x20 || c == 0x7F) {
    AppendHexEscape(out, 'x', c, 2);
  } else {
    return false;
  }
  return true;
}

void AppendStrRepr(std::string& out, std::string_view s) {
  const char quote = PickQuote(s);
  out += quote;
  size_t pos = 0;
  while (pos < s.size()) {
    char32_t cp = 0;
    if (!NextCodePoint(s, pos, cp)) {  // unreachable: a str holds valid UTF-8
      cp = 0xFFFD;
      ++pos;
    }
    if (cp < 0x80) {
      if (!AppendAsciiEscape(out, static_cast<unsigned char>(cp), quote)) {
        out += static_cast<char>(cp);
      }
    } else if (IsPrintable(cp)) {
      AppendUtf8(out, cp);
    } else if (cp <= 0xFF) {
      AppendHexEscape(out, 'x', cp, 2);
    } else if (cp <= 0xFFFF) {
      AppendHexEscape(out, 'u', cp, 4);
    } else {
      AppendHexEscape(out, 'U', cp, 8);
    }
  }
  out += quote;
}

void AppendBytesRepr(std::string& out, std::string_view s) {
  const char quote = PickQuote(s);
  out += 'b';
  out += quote;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80) {
      AppendHexEscape(out, 'x', c, 2);
    } else if (!AppendAsciiEscape(out, c, quote)) {
      out += ch;
    }
  }
  out += quote;
}

// CPython's float_repr: the shortest digits that round-trip (mode 0 of dtoa), in positional
// notation when the decimal exponent is in [-4, 16), else as d.ddde+XX.
void AppendFloatRepr(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "nan";
    return;
  }
  if (std::isinf(d)) {
    out += d > 0 ? "inf" : "-inf";
    return;
  }
  std::array<char, 64> buf{};
  const auto [end, ec] =
      std::to_chars(buf.data(), buf.data() + buf.size(), d, std::chars_format::scientific);
  const std::string_view sci(buf.data(), end - buf.data());  // [-]D[.DDD]e(+|-)XX
  size_t i = 0;
  if (sci[i] == '-') {
    out += '-';
    ++i;
  }
  std::string digits;
  for (; i < sci.size() && sci[i] != 'e'; ++i) {
    if (sci[i] != '.') digits += sci[i];
  }
  int exponent = 0;
  std::from_chars(sci.data() + i + 1 + (sci[i + 1] == '+' ? 1 : 0), sci.data() + sci.size(),
                  exponent);
  const auto ndigits = static_cast<int>(digits.size());
  const int decpt = exponent + 1;  // value = 0.DIGITS * 10^decpt
  if (decpt <= -4 || decpt > 16) {
    out += digits[0];
    if (ndigits > 1) {
      out += '.';
      out.append(digits, 1);
    }
    out += 'e';
    out += exponent < 0 ? '-' : '+';
    const int mag = exponent < 0 ? -exponent : exponent;
    if (mag < 10) out += '0';
    out += std::to_string(mag);
  } else if (decpt <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-decpt), '0');
    out += digits;
  } else if (decpt >= ndigits) {
    out += digits;
    out.append(static_cast<size_t>(decpt - ndigits), '0');
    out += ".0";
  } else {
    out.append(digits, 0, static_cast<size_t>(decpt));
    out += '.';
    out.append(digits, static_cast<size_t>(decpt));
  }
}

void AppendRepr(std::string& out, const Value& v);

void AppendSequence(std::string& out, const std::vector<Value>& items) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    AppendRepr(out, items[i]);
  }
}

void AppendRepr(std::string& out, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNone:
      out += "None";
      break;
    case Value::Kind::kBool:
      out += v.as_bool() ? "True" : "False";
      break;
    case Value::Kind::kInt:
      out += std::to_string(v.as_int());
      break;
    case Value::Kind::kFloat:
      AppendFloatRepr(out, v.as_float());
      break;
    case Value::Kind::kStr:
      AppendStrRepr(out, v.as_str());
      break;
    case Value::Kind::kBytes:
      AppendBytesRepr(out, v.as_bytes().data);
      break;
    case Value::Kind::kList:
      out += '[';
      AppendSequence(out, v.as_list());
      out += ']';
      break;
    case Value::Kind::kTuple:
      out += '(';
      AppendSequence(out, v.as_tuple().items);
      if (v.as_tuple().items.size() == 1) out += ',';
      out += ')';
      break;
    case Value::Kind::kDict: {
      out += '{';
      bool first = true;
      for (const auto& [key, value] : v.as_dict()) {
        if (!first) out += ", ";
        first = false;
        AppendRepr(out, key);
        out += ": ";
        AppendRepr(out, value);
      }
      out += '}';
      break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Equality

bool IsNumeric(Value::Kind k) {
  return k == Value::Kind::kBool || k == Value::Kind::kInt || k == Value::Kind::kFloat;
}

int64_t IntegerOf(const Value& v) { return v.is_bool() ? (v.as_bool() ? 1 : 0) : v.as_int(); }

bool IntEqualsFloat(int64_t i, double d) {
  int64_t di = 0;
  return FloatAsInt(d, di) && di == i;
}

// ---------------------------------------------------------------------------------------------
// Codec

constexpr char kTagNone = 'N';
constexpr char kTagFalse = 'F';
constexpr char kTagTrue = 'T';
constexpr char kTagInt = 'i';
constexpr char kTagFloat = 'f';
constexpr char kTagStr = 's';
constexpr char kTagBytes = 'b';
constexpr char kTagList = 'l';
constexpr char kTagTuple = 't';
constexpr char kTagDict = 'd';

void PutFixed64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

void PutLength(std::string& out, uint64_t n) {
  while (n >= 0x80) {
    out += static_cast<char>((n & 0x7F) | 0x80);
    n >>= 7;
  }
  out += static_cast<char>(n);
}

void Encode(std::string& out, const Value& v, int depth);

void EncodeContainerHeader(std::string& out, char tag, size_t n, int depth) {
  if (depth >= Value::kMaxDepth) {
    throw SerializationError("cannot encode value: nested deeper than " +
                             std::to_string(Value::kMaxDepth) + " containers");
  }
  out += tag;
  PutLength(out, n);
}

void Encode(std::string& out, const Value& v, int depth) {
  switch (v.kind()) {
    case Value::Kind::kNone:
      out += kTagNone;
      break;
    case Value::Kind::kBool:
      out += v.as_bool() ? kTagTrue : kTagFalse;
      break;
    case Value::Kind::kInt:
      out += kTagInt;
      PutFixed64(out, static_cast<uint64_t>(v.as_int()));
      break;
    case Value::Kind::kFloat:
      out += kTagFloat;
      PutFixed64(out, std::bit_cast<uint64_t>(v.as_float()));
      break;
    case Value::Kind::kStr:
      out += kTagStr;
      PutLength(out, v.as_str().size());
      out += v.as_str();
      break;
    case Value::Kind::kBytes:
      out += kTagBytes;
      PutLength(out, v.as_bytes().data.size());
      out += v.as_bytes().data;
      break;
    case Value::Kind::kList:
      EncodeContainerHeader(out, kTagList, v.as_list().size(), depth);
      for (const Value& item : v.as_list()) Encode(out, item, depth + 1);
      break;
    case Value::Kind::kTuple:
      EncodeContainerHeader(out, kTagTuple, v.as_tuple().items.size(), depth);
      for (const Value& item : v.as_tuple().items) Encode(out, item, depth + 1);
      break;
    case Value::Kind::kDict:
      EncodeContainerHeader(out, kTagDict, v.as_dict().size(), depth);
      for (const auto& [key, value] : v.as_dict()) {
        Encode(out, key, depth + 1);
        Encode(out, value, depth + 1);
      }
      break;
  }
}

class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}

  Value decode() {
    Value v = read_value(0);
    if (pos_ != in_.size()) {
      fail(std::to_string(in_.size() - pos_) + " trailing bytes after the value");
    }
    return v;
  }

 private:
  size_t remaining() const { return in_.size() - pos_; }

  [[noreturn]] void fail(const std::string& what) const {
    throw SerializationError("cannot decode value: " + what + " (at byte " + std::to_string(pos_) +
                             ")");
  }

  void need(uint64_t n) const {
    if (n > remaining()) fail("truncated input");
  }

  unsigned char read_byte() {
    need(1);
    return static_cast<unsigned char>(in_[pos_++]);
  }

  uint64_t read_fixed64() {
    need(8);
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(in_[pos_ + i]);
    pos_ += 8;
    return v;
  }

  uint64_t read_length() {
    uint64_t n = 0;
    for (int i = 0;; ++i) {
      const unsigned char b = read_byte();
      if (i == 9 && b > 1) fail("length does not fit in 64 bits");
      n |= uint64_t{b & 0x7Fu} << (7 * i);
      if ((b & 0x80) == 0) {
        if (i > 0 && b == 0) fail("length not in its shortest form");
        return n;
      }
    }
  }

  // A length of `n` items of at least `min_item_bytes` bytes each, checked against the input left.
  uint64_t read_count(uint64_t min_item_bytes) {
    const uint64_t n = read_length();
    if (n > remaining() / min_item_bytes) {
      fail("length " + std::to_string(n) + " exceeds the " + std::to_string(remaining()) +
           " bytes left");
    }
    return n;
  }

  std::string_view read_span() {
    const uint64_t n = read_count(1);
    const std::string_view s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }

  // Checks the nesting before reading the container whose tag is at `start`.
  void enter(int depth, size_t start) {
    if (depth >= Value::kMaxDepth) {
      pos_ = start;
      fail("nested deeper than " + std::to_string(Value::kMaxDepth) + " containers");
    }
  }

  std::vector<Value> read_items(int depth) {
    const uint64_t n = read_count(1);
    std::vector<Value> items;
    items.reserve(n);
    for (uint64_t i = 0; i < n; ++i) items.push_back(read_value(depth + 1));
    return items;
  }

  Value read_value(int depth) {
    const size_t start = pos_;
    const unsigned char tag = read_byte();
    switch (tag) {
      case kTagNone:
        return Value();
      case kTagFalse:
        return Value(false);
      case kTagTrue:
        return Value(true);
      case kTagInt:
        return Value(static_cast<int64_t>(read_fixed64()));
      case kTagFloat:
        return Value(std::bit_cast<double>(read_fixed64()));
      case kTagStr: {
        const std::string_view s = read_span();
        const size_t bad = FindInvalidUtf8(s);
        if (bad != kNpos) {
          pos_ = pos_ - s.size() + bad;
          fail("str is not valid UTF-8");
        }
        return Value(std::string(s));
      }
      case kTagBytes:
        return Value(Bytes{std::string(read_span())});
      case kTagList:
        enter(depth, start);
        return Value(read_items(depth));
      case kTagTuple:
        enter(depth, start);
        return Value(Tuple(read_items(depth)));
      case kTagDict: {
        enter(depth, start);
        const uint64_t n = read_count(2);
        Dict dict;
        for (uint64_t i = 0; i < n; ++i) {
          const size_t key_start = pos_;
          Value key = read_value(depth + 1);
          Value value = read_value(depth + 1);
          bool inserted = false;
          try {
            inserted = dict.try_emplace(std::move(key), std::move(value));
          } catch (const TypeError& e) {
            pos_ = key_start;
            fail(std::string("dict key: ") + e.what());
          }
          if (!inserted) {
            pos_ = key_start;
            fail("repeated dict key");
          }
        }
        return Value(std::move(dict));
      }
      default: {
        pos_ = start;
        static constexpr char kHex[] = "0123456789abcdef";
        fail(std::string("unknown tag 0x") + kHex[tag >> 4] + kHex[tag & 15]);
      }
    }
  }

  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Tuple, Dict

Tuple::Tuple(std::initializer_list<Value> items) : items(items) {}
Tuple::Tuple(std::vector<Value> items) : items(std::move(items)) {}
bool Tuple::operator==(const Tuple& other) const { return items == other.items; }

Dict::Dict(std::initializer_list<Item> items) {
  for (const Item& item : items) insert_or_assign(item.first, item.second);
}

Dict::Dict(std::vector<Item> items) {
  for (Item& item : items) insert_or_assign(std::move(item.first), std::move(item.second));
}

size_t Dict::position(const Value& key, uint64_t h) const {
  const auto [first, last] = index_.equal_range(h);
  for (auto it = first; it != last; ++it) {
    if (items_[it->second].first == key) return it->second;
  }
  return kNpos;
}

const Value* Dict::find(const Value& key) const {
  std::string_view unhashable;
  const std::optional<uint64_t> h = TryHash(key, unhashable);
  if (!h) return nullptr;
  const size_t pos = position(key, *h);
  return pos == kNpos ? nullptr : &items_[pos].second;
}

Value* Dict::find(const Value& key) {
  return const_cast<Value*>(static_cast<const Dict*>(this)->find(key));
}

bool Dict::insert_or_assign(Value key, Value value) {
  const uint64_t h = HashKey(key);
  const size_t pos = position(key, h);
  if (pos != kNpos) {
    items_[pos].second = std::move(value);
    return false;
  }
  items_.emplace_back(std::move(key), std::move(value));
  try {
    index_.emplace(h, items_.size() - 1);
  } catch (...) {
    items_.pop_back();
    throw;
  }
  return true;
}

bool Dict::try_emplace(Value key, Value value) {
  const uint64_t h = HashKey(key);
  if (position(key, h) != kNpos) return false;
  items_.emplace_back(std::move(key), std::move(value));
  try {
    index_.emplace(h, items_.size() - 1);
  } catch (...) {
    items_.pop_back();
    throw;
  }
  return true;
}

bool Dict::operator==(const Dict& other) const {
  if (size() != other.size()) return false;
  for (const auto& [key, value] : items_) {
    const Value* theirs = other.find(key);
    if (theirs == nullptr || !(*theirs == value)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Value

Value::Value(const char* s) {
  if (s == nullptr) throw ValueError("a str Value cannot be made from a null pointer");
  v_ = CheckedStr(std::string(s));
}

Value::Value(std::string s) : v_(CheckedStr(std::move(s))) {}

Value::Value(std::string_view s) : v_(CheckedStr(std::string(s))) {}

std::string_view Value::type_name() const noexcept {
  switch (kind()) {
    case Kind::kNone:
      return "NoneType";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kStr:
      return "str";
    case Kind::kBytes:
      return "bytes";
    case Kind::kList:
      return "list";
    case Kind::kTuple:
      return "tuple";
    case Kind::kDict:
      return "dict";
  }
  return "?";
}

void Value::wrong_kind(Kind expected) const {
  Value probe;
  switch (expected) {
    case Kind::kNone:
      break;
    case Kind::kBool:
      probe = Value(false);
      break;
    case Kind::kInt:
      probe = Value(0);
      break;
    case Kind::kFloat:
      probe = Value(0.0);
      break;
    case Kind::kStr:
      probe = Value("");
      break;
    case Kind::kBytes:
      probe = Value(Bytes{});
      break;
    case Kind::kList:
      probe = Value(List{});
      break;
    case Kind::kTuple:
      probe = Value(Tuple{});
      break;
    case Kind::kDict:
      probe = Value(Dict{});
      break;
  }
  throw TypeError("expected " + std::string(probe.type_name()) + ", got " +
                  std::string(type_name()));
}

template <typename T>
const T& Value::checked() const {
  if (const T* p = std::get_if<T>(&v_)) return *p;
  wrong_kind(static_cast<Kind>(decltype(v_)(std::in_place_type<T>).index()));
}

bool Value::as_bool() const { return checked<bool>(); }
int64_t Value::as_int() const { return checked<int64_t>(); }
double Value::as_float() const { return checked<double>(); }
const std::string& Value::as_str() const { return checked<std::string>(); }
const Bytes& Value::as_bytes() const { return checked<Bytes>(); }
Bytes& Value::as_bytes() { return checked<Bytes>(); }
const List& Value::as_list() const { return checked<List>(); }
List& Value::as_list() { return checked<List>(); }
const Tuple& Value::as_tuple() const { return checked<Tuple>(); }
Tuple& Value::as_tuple() { return checked<Tuple>(); }
const Dict& Value::as_dict() const { return checked<Dict>(); }
Dict& Value::as_dict() { return checked<Dict>(); }

std::string Value::repr() const {
  std::string out;
  AppendRepr(out, *this);
  return out;
}

bool Value::operator==(const Value& other) const {
  const Kind a = kind();
  const Kind b = other.kind();
  if (IsNumeric(a) && IsNumeric(b)) {
    if (a == Kind::kFloat && b == Kind::kFloat) return as_float() == other.as_float();
    if (a == Kind::kFloat) return IntEqualsFloat(IntegerOf(other), as_float());
    if (b == Kind::kFloat) return IntEqualsFloat(IntegerOf(*this), other.as_float());
    return IntegerOf(*this) == IntegerOf(other);
  }
  if (a != b) return false;
  switch (a) {
    case Kind::kNone:
      return true;
    case Kind::kStr:
      return as_str() == other.as_str();
    case Kind::kBytes:
      return as_bytes() == other.as_bytes();
    case Kind::kList:
      return as_list() == other.as_list();
    case Kind::kTuple:
      return as_tuple() == other.as_tuple();
    case Kind::kDict:
      return as_dict() == other.as_dict();
    case Kind::kBool:
    case Kind::kInt:
    case Kind::kFloat:
      break;  // handled above
  }
  return false;
}

std::ostream& operator<<(std::ostream& os, const Value& v) { return os << v.repr(); }

std::string EncodeValue(const Value& value) {
  std::string out;
  Encode(out, value, 0);
  return out;
}

Value DecodeValue(std::string_view bytes) { return Decoder(bytes).decode(); }

}  // namespace mpipc
