// The fast inference path's kernels (`src/model/fast.rs`), C entry points into LibTorch for what tch 0.24 does not
// expose (memory formats, the CPU's bf16 support) and two CPU kernels eager PyTorch does not have:
//
// - `p2p_norm_act`: instance norm (statistics in float32, eps 1e-5) -> optional ReLU -> optional residual sum, in one
//   pass over a channels-last input, writing straight into the interior of an optionally reflection-padded output
//   (the next convolution's input). Eager PyTorch runs instance norm on channels-last data by copying it to NCHW
//   and back; this reads the input twice (statistics, output) and writes once.
// - `p2p_label_levels` / `p2p_label_conv_add`: the part of a convolution whose input channels are a one-hot label
//   map, or that map average-pooled (the LocalEnhancer's input pyramid), as a lookup. The levels are kept sparse:
//   a pixel is one label, or (on a pooled boundary) a short list of labels and weights. Each output pixel adds, for
//   each of the k*k taps, the weight column of the label under the tap; a tap row over one label is one add of the
//   row's summed columns. A 7x7 convolution of 35 one-hot channels costs at most 49 additions of a C_out vector
//   per pixel instead of 35*49 MACs, and inside a region one.
//
// Both work on float32 and bfloat16, N >= 1, on the CPU. Other devices and types take the same maths in ATen ops
// (`p2p_norm_act`) or are refused (`p2p_label_conv_add`; the Rust side then runs the plain convolution).
// Errors come back as a strdup'ed message the caller frees; results as a new at::Tensor* (tch's C_tensor).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/Utils.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define P2P_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define P2P_CLONES
#endif

static inline float bf2f(uint16_t v) {
  uint32_t u = static_cast<uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

static inline uint16_t f2bf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // NaN stays NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
  return static_cast<uint16_t>(u >> 16);
}

// The vectorised loops, outside the anonymous namespace: GCC makes target_clones an ifunc of an external symbol.
// Sum of (x - k) and of (x - k)^2 over `n` elements, with k the per-element shift; float accumulators per element.
P2P_CLONES void p2p_sums_f32(const float* x, const float* k, float* s, float* ss, int64_t n) {
  for (int64_t j = 0; j < n; j++) {
    float d = x[j] - k[j];
    s[j] += d;
    ss[j] += d * d;
  }
}

P2P_CLONES void p2p_sums_bf16(const uint16_t* x, const float* k, float* s, float* ss, int64_t n) {
  for (int64_t j = 0; j < n; j++) {
    float d = bf2f(x[j]) - k[j];
    s[j] += d;
    ss[j] += d * d;
  }
}

// y = x * scale + shift, then ReLU, then + r (r may be null), for `n` elements.
P2P_CLONES void p2p_apply_f32(const float* x, const float* scale, const float* shift, const float* r, float* y, int64_t n,
                          bool relu) {
  for (int64_t j = 0; j < n; j++) {
    float v = x[j] * scale[j] + shift[j];
    if (relu) v = v > 0.f ? v : 0.f;
    if (r) v += r[j];
    y[j] = v;
  }
}

P2P_CLONES void p2p_apply_bf16(const uint16_t* x, const float* scale, const float* shift, const uint16_t* r, uint16_t* y,
                           int64_t n, bool relu) {
  for (int64_t j = 0; j < n; j++) {
    float v = bf2f(x[j]) * scale[j] + shift[j];
    if (relu) v = v > 0.f ? v : 0.f;
    if (r) v += bf2f(r[j]);
    y[j] = f2bf(v);
  }
}

// One output row of the label convolution: acc[x, :] = sum over taps (ky, kx) of the weight columns of the input
// pixel under the tap, from table[ky][kx][c][:] ([k][k][nc][co] floats). `rows` are the k reflection-padded code
// rows under the output row: a code c >= 0 is a pure one-hot pixel of label c; a code -1 - m is a mixed pixel (a
// pooled boundary), whose labels and weights are entries off[m]..off[m+1] of cls/wt. Label maps are piecewise
// constant, so most windows repeat one label along a row: where `uni[ky][x]` says the k codes from x on are one
// label c, that row of taps is one add of `rowsum[ky][c]` (the sum over kx); where all k rows are one label, the
// pixel is `allsum[c]`. Each pixel sums in registers; the C_out loop has a constant trip count in the common widths.
template <int CO>
__attribute__((always_inline)) inline void gather_row(const int32_t* const* __restrict rows,
                                                      const uint8_t* const* __restrict uni,
                                                      const float* __restrict table, const float* __restrict rowsum,
                                                      const float* __restrict allsum, const int64_t* __restrict off,
                                                      const uint8_t* __restrict cls, const float* __restrict wt,
                                                      float* __restrict acc, int64_t ow, int64_t k, int64_t nc,
                                                      int64_t co) {
  const int64_t n = CO > 0 ? CO : co;
  for (int64_t x = 0; x < ow; x++) {
    float* out = acc + x * n;
    const int32_t c0 = rows[0][x];
    bool all = true;
    for (int64_t ky = 0; ky < k; ky++) all = all && uni[ky][x] && rows[ky][x] == c0;
    if (all) {
      const float* s = allsum + c0 * n;
      for (int64_t j = 0; j < n; j++) out[j] = s[j];
      continue;
    }
    float r[CO > 0 ? CO : 1] = {};
    if (CO == 0) std::fill(out, out + n, 0.f);
    auto add = [&](const float* __restrict wv, float f) __attribute__((always_inline)) {
      if constexpr (CO > 0) {
        for (int j = 0; j < CO; j++) r[j] += f * wv[j];
      } else {
        for (int64_t j = 0; j < n; j++) out[j] += f * wv[j];
      }
    };
    for (int64_t ky = 0; ky < k; ky++) {
      const int32_t* lr = rows[ky] + x;
      if (uni[ky][x]) {
        add(rowsum + (ky * nc + lr[0]) * n, 1.f);
        continue;
      }
      const float* t = table + ky * k * nc * n;
      for (int64_t kx = 0; kx < k; kx++) {
        const int32_t code = lr[kx];
        if (code >= 0) {
          add(t + (kx * nc + code) * n, 1.f);
        } else {
          for (int64_t e = off[-1 - code], end = off[-code]; e < end; e++) add(t + (kx * nc + cls[e]) * n, wt[e]);
        }
      }
    }
    if constexpr (CO > 0) {
      for (int j = 0; j < CO; j++) out[j] = r[j];
    }
  }
}

P2P_CLONES void p2p_gather_row(const int32_t* const* rows, const uint8_t* const* uni, const float* table,
                               const float* rowsum, const float* allsum, const int64_t* off, const uint8_t* cls,
                               const float* wt, float* acc, int64_t ow, int64_t k, int64_t nc, int64_t co) {
  switch (co) {
    case 8:
      return gather_row<8>(rows, uni, table, rowsum, allsum, off, cls, wt, acc, ow, k, nc, co);
    case 16:
      return gather_row<16>(rows, uni, table, rowsum, allsum, off, cls, wt, acc, ow, k, nc, co);
    case 32:
      return gather_row<32>(rows, uni, table, rowsum, allsum, off, cls, wt, acc, ow, k, nc, co);
    case 64:
      return gather_row<64>(rows, uni, table, rowsum, allsum, off, cls, wt, acc, ow, k, nc, co);
    default:
      return gather_row<0>(rows, uni, table, rowsum, allsum, off, cls, wt, acc, ow, k, nc, co);
  }
}

P2P_CLONES void p2p_add_f32(float* __restrict y, const float* __restrict a, int64_t n) {
  for (int64_t j = 0; j < n; j++) y[j] += a[j];
}

P2P_CLONES void p2p_add_bf16(uint16_t* __restrict y, const float* __restrict a, int64_t n) {
  for (int64_t j = 0; j < n; j++) y[j] = f2bf(bf2f(y[j]) + a[j]);
}

namespace {

// A block of pixels processed at once: `kpix` pixels of C channels, so that the inner loops run over one flat array
// of at least 64 elements with per-element scale/shift (the channel pattern repeated), which vectorises for any C.
struct Block {
  int64_t c, kpix, len;
  explicit Block(int64_t channels) : c(channels), kpix(std::max<int64_t>(1, 64 / channels)), len(channels * kpix) {}
};

template <typename T>
float to_f(T v);
template <>
float to_f<float>(float v) {
  return v;
}
template <>
float to_f<uint16_t>(uint16_t v) {
  return bf2f(v);
}

template <typename T>
void sums(const T* x, const float* k, float* s, float* ss, int64_t n);
template <>
void sums<float>(const float* x, const float* k, float* s, float* ss, int64_t n) {
  p2p_sums_f32(x, k, s, ss, n);
}
template <>
void sums<uint16_t>(const uint16_t* x, const float* k, float* s, float* ss, int64_t n) {
  p2p_sums_bf16(x, k, s, ss, n);
}

template <typename T>
void apply(const T* x, const float* a, const float* b, const T* r, T* y, int64_t n, bool relu);
template <>
void apply<float>(const float* x, const float* a, const float* b, const float* r, float* y, int64_t n, bool relu) {
  p2p_apply_f32(x, a, b, r, y, n, relu);
}
template <>
void apply<uint16_t>(const uint16_t* x, const float* a, const float* b, const uint16_t* r, uint16_t* y, int64_t n,
                     bool relu) {
  p2p_apply_bf16(x, a, b, r, y, n, relu);
}

// Per (item, channel) mean and 1/sqrt(var + eps) of a channels-last [N, C, H, W] tensor (data as [N][H][W][C]).
// Each row of each item is summed around a shift (its first pixel, which keeps the float sums well conditioned)
// and the rows are merged in double (Chan et al.'s pairwise update).
template <typename T>
void norm_stats(const T* data, int64_t n_items, int64_t c, int64_t h, int64_t w, std::vector<float>& mean,
                std::vector<float>& rstd) {
  Block blk(c);
  std::vector<double> row_n(n_items * h), row_mean(n_items * h * c), row_m2(n_items * h * c);
  at::parallel_for(0, n_items * h, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> k(blk.len), s(blk.len), ss(blk.len);
    for (int64_t r = begin; r < end; r++) {
      const T* row = data + r * w * c;
      for (int64_t j = 0; j < blk.len; j++) k[j] = to_f(row[j % c]);
      std::fill(s.begin(), s.end(), 0.f);
      std::fill(ss.begin(), ss.end(), 0.f);
      int64_t x = 0;
      for (; x + blk.kpix <= w; x += blk.kpix) sums(row + x * c, k.data(), s.data(), ss.data(), blk.len);
      if (x < w) sums(row + x * c, k.data(), s.data(), ss.data(), (w - x) * c);
      for (int64_t ch = 0; ch < c; ch++) {
        double sum = 0, sq = 0;
        for (int64_t j = ch; j < blk.len; j += c) {
          sum += s[j];
          sq += ss[j];
        }
        double m = sum / w;
        row_mean[r * c + ch] = k[ch] + m;
        row_m2[r * c + ch] = std::max(0.0, sq - sum * m);
      }
      row_n[r] = static_cast<double>(w);
    }
  });
  mean.assign(n_items * c, 0.f);
  rstd.assign(n_items * c, 0.f);
  for (int64_t i = 0; i < n_items; i++) {
    for (int64_t ch = 0; ch < c; ch++) {
      double n = 0, m = 0, m2 = 0;
      for (int64_t y = 0; y < h; y++) {
        int64_t r = i * h + y;
        double nb = row_n[r], mb = row_mean[r * c + ch], m2b = row_m2[r * c + ch];
        double nt = n + nb, d = mb - m;
        m += d * nb / nt;
        m2 += m2b + d * d * n * nb / nt;
        n = nt;
      }
      mean[i * c + ch] = static_cast<float>(m);
      rstd[i * c + ch] = static_cast<float>(1.0 / std::sqrt(m2 / n + 1e-5));
    }
  }
}

// Writes the reflection border of a channels-last [N, C, H + 2p, W + 2p] tensor whose interior is filled.
template <typename T>
void reflect_border(T* out, int64_t n_items, int64_t c, int64_t h, int64_t w, int64_t p) {
  int64_t ph = h + 2 * p, pw = w + 2 * p;
  at::parallel_for(0, n_items * h, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      int64_t i = r / h, y = r % h + p;
      T* row = out + (i * ph + y) * pw * c;
      for (int64_t k = 1; k <= p; k++) {
        std::memcpy(row + (p - k) * c, row + (p + k) * c, c * sizeof(T));
        std::memcpy(row + (p + w - 1 + k) * c, row + (p + w - 1 - k) * c, c * sizeof(T));
      }
    }
  });
  for (int64_t i = 0; i < n_items; i++) {
    T* img = out + i * ph * pw * c;
    for (int64_t k = 1; k <= p; k++) {
      std::memcpy(img + (p - k) * pw * c, img + (p + k) * pw * c, pw * c * sizeof(T));
      std::memcpy(img + (p + h - 1 + k) * pw * c, img + (p + h - 1 - k) * pw * c, pw * c * sizeof(T));
    }
  }
}

template <typename T>
void norm_act_cpu(const at::Tensor& x, const at::Tensor* res, int64_t rp, bool relu, int64_t p, at::Tensor& out) {
  int64_t n_items = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const T* xd = reinterpret_cast<const T*>(x.data_ptr());
  const T* rd = res ? reinterpret_cast<const T*>(res->data_ptr()) : nullptr;
  T* od = reinterpret_cast<T*>(out.data_ptr());
  std::vector<float> mean, rstd;
  norm_stats(xd, n_items, c, h, w, mean, rstd);
  Block blk(c);
  int64_t pw = w + 2 * p, ph = h + 2 * p;
  at::parallel_for(0, n_items * h, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> a(blk.len), b(blk.len);
    int64_t item = -1;
    for (int64_t r = begin; r < end; r++) {
      int64_t i = r / h, y = r % h;
      if (i != item) {
        for (int64_t j = 0; j < blk.len; j++) {
          a[j] = rstd[i * c + j % c];
          b[j] = -mean[i * c + j % c] * a[j];
        }
        item = i;
      }
      const T* xr = xd + r * w * c;
      const T* rr = rd ? rd + ((i * (h + 2 * rp) + y + rp) * (w + 2 * rp) + rp) * c : nullptr;
      T* yr = od + ((i * ph + y + p) * pw + p) * c;
      int64_t x0 = 0;
      for (; x0 + blk.kpix <= w; x0 += blk.kpix)
        apply(xr + x0 * c, a.data(), b.data(), rr ? rr + x0 * c : nullptr, yr + x0 * c, blk.len, relu);
      if (x0 < w) apply(xr + x0 * c, a.data(), b.data(), rr ? rr + x0 * c : nullptr, yr + x0 * c, (w - x0) * c, relu);
    }
  });
  if (p > 0) reflect_border(od, n_items, c, h, w, p);
}

bool fits_kernel(const at::Tensor& x) {
  return x.device().is_cpu() && x.dim() == 4 && x.is_contiguous(at::MemoryFormat::ChannelsLast) &&
         (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16);
}

// The same maths in ATen ops, for other devices and types (and to test the kernel against).
at::Tensor norm_act_aten(const at::Tensor& x, const at::Tensor* res, int64_t rp, bool relu, int64_t p) {
  at::Tensor y = at::instance_norm(x, {}, {}, {}, {}, true, 0.1, 1e-5, false);
  if (relu) y = y.relu_();
  if (res) y = y.add_(res->narrow(2, rp, x.size(2)).narrow(3, rp, x.size(3)));
  if (p > 0) y = at::reflection_pad2d(y, {p, p, p, p});
  return y.contiguous(at::MemoryFormat::ChannelsLast);
}

template <typename F>
char* catching(F f) {
  try {
    f();
    return nullptr;
  } catch (const std::exception& e) {
    return strdup(e.what());
  }
}

// One level of G's label input: the one-hot map of the labels, or its AvgPool2d(3, 2, 1, count_include_pad=False)
// pooled `l` times, kept sparse. code[i][y][x] >= 0: the pixel is the one-hot of that label; -1 - m: it is mixed,
// its nonzero labels and values are entries off[m]..off[m+1] of cls/wt.
struct Level {
  int64_t n = 0, h = 0, w = 0;
  std::vector<int32_t> code;
  std::vector<int64_t> off{0};
  std::vector<uint8_t> cls;
  std::vector<float> wt;
};

struct Levels {
  int64_t nc = 0;
  std::vector<Level> levels;
};

// The next level: each pixel the average of the 3x3 window at (2 oy, 2 ox) of `in`, padding not counted.
Level pool_level(const Level& in) {
  Level o;
  o.n = in.n, o.h = (in.h - 1) / 2 + 1, o.w = (in.w - 1) / 2 + 1;
  o.code.assign(o.n * o.h * o.w, 0);
  const int64_t rows = o.n * o.h;
  std::vector<int64_t> row_mixed(rows + 1, 0), row_nnz(rows + 1, 0);
  // Visits the window of (row r, ox): returns its label when pure, else -1 with the averaged labels in
  // (touched[0..nt), acc[label]).
  auto window = [&](int64_t r, int64_t ox, float* acc, uint8_t* seen, uint8_t* touched, int& nt) -> int32_t {
    int64_t i = r / o.h, oy = r % o.h;
    int64_t y0 = std::max<int64_t>(0, 2 * oy - 1), y1 = std::min<int64_t>(in.h, 2 * oy + 2);
    int64_t x0 = std::max<int64_t>(0, 2 * ox - 1), x1 = std::min<int64_t>(in.w, 2 * ox + 2);
    const int32_t first = in.code[(i * in.h + y0) * in.w + x0];
    bool pure = first >= 0;
    for (int64_t y = y0; y < y1 && pure; y++)
      for (int64_t x = x0; x < x1; x++) pure = pure && in.code[(i * in.h + y) * in.w + x] == first;
    if (pure) return first;
    nt = 0;
    auto add = [&](uint8_t c, float v) {
      if (!seen[c]) seen[c] = 1, acc[c] = 0.f, touched[nt++] = c;
      acc[c] += v;
    };
    for (int64_t y = y0; y < y1; y++)
      for (int64_t x = x0; x < x1; x++) {
        int32_t c = in.code[(i * in.h + y) * in.w + x];
        if (c >= 0) {
          add(static_cast<uint8_t>(c), 1.f);
        } else {
          for (int64_t e = in.off[-1 - c]; e < in.off[-c]; e++) add(in.cls[e], in.wt[e]);
        }
      }
    float inv = 1.f / static_cast<float>((y1 - y0) * (x1 - x0));
    for (int t = 0; t < nt; t++) acc[touched[t]] *= inv, seen[touched[t]] = 0;
    return -1;
  };
  for (int pass = 0; pass < 2; pass++) {
    at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
      float acc[256];
      uint8_t seen[256] = {}, touched[256];
      int nt = 0;
      for (int64_t r = begin; r < end; r++) {
        int64_t m = pass == 0 ? 0 : row_mixed[r], e = pass == 0 ? 0 : row_nnz[r];
        for (int64_t ox = 0; ox < o.w; ox++) {
          // Pass 1 revisits only the mixed pixels (pass 0 left them at -1).
          if (pass == 1 && o.code[r * o.w + ox] >= 0) continue;
          int32_t c = window(r, ox, acc, seen, touched, nt);
          if (c >= 0) {
            o.code[r * o.w + ox] = c;
            continue;
          }
          if (pass == 0) {
            o.code[r * o.w + ox] = -1;
          } else {
            o.code[r * o.w + ox] = static_cast<int32_t>(-1 - m);
            for (int t = 0; t < nt; t++) o.cls[e + t] = touched[t], o.wt[e + t] = acc[touched[t]];
            o.off[m + 1] = e + nt;
          }
          m++, e += nt;
        }
        if (pass == 0) row_mixed[r + 1] = m, row_nnz[r + 1] = e;
      }
    });
    if (pass == 0) {
      for (int64_t r = 0; r < rows; r++) row_mixed[r + 1] += row_mixed[r], row_nnz[r + 1] += row_nnz[r];
      TORCH_CHECK(row_mixed[rows] < INT32_MAX, "too many mixed pixels in a pooled label map");
      o.off.assign(row_mixed[rows] + 1, 0);
      o.cls.assign(row_nnz[rows], 0);
      o.wt.assign(row_nnz[rows], 0.f);
    }
  }
  return o;
}

// out[i, :, y, x] += sum over taps (ky, kx) of the weight columns of level pixel (y + ky - pad, x + kx - pad), the
// level read with reflection at the borders (as the reflection-padded one-hot input would give it).
template <typename T>
void level_add_cpu(const Level& lv, const float* table, int64_t nc, int64_t co, int64_t k, int64_t pad, T* out,
                   int64_t oh, int64_t ow) {
  auto reflect = [](int64_t v, int64_t n) {
    if (v < 0) v = -v;
    if (v >= n) v = 2 * (n - 1) - v;
    return v;
  };
  const int64_t n_items = lv.n, h = lv.h, w = lv.w, ph = h + 2 * pad, pw = w + 2 * pad;
  std::vector<int32_t> padded(n_items * ph * pw);
  std::vector<int64_t> cols(pw);
  for (int64_t x = 0; x < pw; x++) cols[x] = reflect(x - pad, w);
  // uniform[row][x]: the k codes of padded row `row` from x on are one pure label.
  std::vector<uint8_t> uniform(n_items * ph * ow);
  at::parallel_for(0, n_items * ph, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      int64_t i = r / ph, y = r % ph;
      const int32_t* src = lv.code.data() + (i * h + reflect(y - pad, h)) * w;
      int32_t* p = padded.data() + r * pw;
      for (int64_t x = 0; x < pw; x++) p[x] = src[cols[x]];
      uint8_t* u = uniform.data() + r * ow;
      int64_t run = 1;  // equal codes from x on, counted from the right end
      for (int64_t x = pw - 1; x >= 0; x--) {
        run = x + 1 < pw && p[x] == p[x + 1] ? run + 1 : 1;
        if (x < ow) u[x] = run >= k && p[x] >= 0;
      }
    }
  });
  // rowsum[ky][c][:] = sum over kx of table[ky][kx][c][:]; allsum[c][:] = sum over ky of rowsum[ky][c][:].
  std::vector<float> rowsum(k * nc * co, 0.f), allsum(nc * co, 0.f);
  for (int64_t ky = 0; ky < k; ky++)
    for (int64_t kx = 0; kx < k; kx++)
      for (int64_t j = 0; j < nc * co; j++) rowsum[ky * nc * co + j] += table[(ky * k + kx) * nc * co + j];
  for (int64_t ky = 0; ky < k; ky++)
    for (int64_t j = 0; j < nc * co; j++) allsum[j] += rowsum[ky * nc * co + j];
  at::parallel_for(0, n_items * oh, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> acc(ow * co);
    std::vector<const int32_t*> rows(k);
    std::vector<const uint8_t*> uni(k);
    for (int64_t r = begin; r < end; r++) {
      int64_t i = r / oh, y = r % oh;
      for (int64_t ky = 0; ky < k; ky++) {
        rows[ky] = padded.data() + (i * ph + y + ky) * pw;
        uni[ky] = uniform.data() + (i * ph + y + ky) * ow;
      }
      p2p_gather_row(rows.data(), uni.data(), table, rowsum.data(), allsum.data(), lv.off.data(), lv.cls.data(),
                     lv.wt.data(), acc.data(), ow, k, nc, co);
      T* orow = out + (i * oh + y) * ow * co;
      if constexpr (std::is_same_v<T, float>) {
        p2p_add_f32(orow, acc.data(), ow * co);
      } else {
        p2p_add_bf16(orow, acc.data(), ow * co);
      }
    }
  });
}

void check_labels(const at::Tensor& l, int64_t label_nc) {
  TORCH_CHECK(l.dim() == 3 && l.scalar_type() == at::kByte && l.is_contiguous() && l.device().is_cpu(),
              "one-hot kernels need contiguous [N, H, W] uint8 labels on the CPU");
  TORCH_CHECK(label_nc >= 1 && label_nc <= 256, "label_nc ", label_nc, " is not in 1..=256");
  TORCH_CHECK(l.numel() == 0 || l.max().item<int64_t>() < label_nc, "a label is not below label_nc ", label_nc);
}

}  // namespace

// How many norm_act calls took the ATen composition though not asked to (an input not channels-last, or of a
// type or device the kernel does not take): the fast path's layout check.
std::atomic<int64_t> g_norm_act_fallbacks{0};

extern "C" {

int64_t p2p_norm_act_fallbacks() { return g_norm_act_fallbacks.load(); }

// *out = x in channels-last memory format (a copy, or x itself when it already is).
char* p2p_to_channels_last(at::Tensor* x, at::Tensor** out) {
  return catching([&] { *out = new at::Tensor(x->contiguous(at::MemoryFormat::ChannelsLast)); });
}

int p2p_is_channels_last(at::Tensor* x) {
  return x->dim() == 4 && x->is_contiguous(at::MemoryFormat::ChannelsLast) ? 1 : 0;
}

// Whether the CPU has native bfloat16 arithmetic LibTorch's kernels use (AVX-512 BF16 or AMX BF16 tiles), as
// LibTorch's own cpuinfo-based detection reports it.
int p2p_cpu_native_bf16() {
  try {
    auto caps = at::cpu::get_cpu_capabilities();
    auto has = [&](const char* key) {
      auto it = caps.find(key);
      return it != caps.end() && it->second.isBool() && it->second.toBool();
    };
    return (has("avx512_bf16") || has("amx_bf16")) ? 1 : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

// *out = reflection_pad(pad)(relu?(instance_norm(x)) + residual) in channels-last layout. `residual` may be null,
// or a tensor reflection-padded by `res_pad` whose interior is x's size (the block input the next conv also reads).
// `force_aten` runs the ATen composition even where the kernel applies (for tests).
char* p2p_norm_act(at::Tensor* x, at::Tensor* residual, int64_t res_pad, int relu, int64_t pad, int force_aten,
                   at::Tensor** out) {
  return catching([&] {
    const at::Tensor& in = *x;
    TORCH_CHECK(in.dim() == 4, "norm_act takes a [N, C, H, W] tensor, not ", in.sizes());
    TORCH_CHECK(pad >= 0 && pad < in.size(2) && pad < in.size(3), "reflection padding ", pad,
                " does not fit a ", in.size(2), "x", in.size(3), " input");
    if (residual) {
      const at::Tensor& r = *residual;
      TORCH_CHECK(r.dim() == 4 && r.size(0) == in.size(0) && r.size(1) == in.size(1) &&
                      r.size(2) == in.size(2) + 2 * res_pad && r.size(3) == in.size(3) + 2 * res_pad,
                  "norm_act: residual ", r.sizes(), " padded by ", res_pad, " does not fit ", in.sizes());
    }
    bool kernel = !force_aten && fits_kernel(in) &&
                  (!residual || (fits_kernel(*residual) && residual->scalar_type() == in.scalar_type()));
    if (!kernel) {
      if (!force_aten) g_norm_act_fallbacks++;
      *out = new at::Tensor(norm_act_aten(in, residual, res_pad, relu != 0, pad));
      return;
    }
    at::Tensor o = at::empty({in.size(0), in.size(1), in.size(2) + 2 * pad, in.size(3) + 2 * pad},
                             in.options().memory_format(at::MemoryFormat::ChannelsLast));
    if (in.scalar_type() == at::kFloat) {
      norm_act_cpu<float>(in, residual, res_pad, relu != 0, pad, o);
    } else {
      norm_act_cpu<uint16_t>(in, residual, res_pad, relu != 0, pad, o);
    }
    *out = new at::Tensor(o);
  });
}

// Adds to `acc` (channels-last [N, C_out, OH, OW], float32 or bfloat16, CPU; typically the convolution of the
// other input channels, bias included) the convolution of the one-hot encoding of `labels` ([N, H, W] uint8,
// values < label_nc) with weight[:, :label_nc] ([C_out, C_in, k, k], stride 1), reflection-padded by `pad`.
// *out = the label levels 0..=k of `labels` ([N, H, W] uint8, values < label_nc): the one-hot map and its k
// poolings, sparse (free with p2p_label_levels_free).
char* p2p_label_levels(at::Tensor* labels, int64_t label_nc, int64_t k, void** out) {
  return catching([&] {
    const at::Tensor& l = *labels;
    check_labels(l, label_nc);
    TORCH_CHECK(k >= 0 && k <= 16, "label levels: ", k, " poolings");
    auto lv = std::make_unique<Levels>();
    lv->nc = label_nc;
    Level base;
    base.n = l.size(0), base.h = l.size(1), base.w = l.size(2);
    const uint8_t* src = l.data_ptr<uint8_t>();
    base.code.assign(src, src + l.numel());
    lv->levels.push_back(std::move(base));
    for (int64_t i = 0; i < k; i++) lv->levels.push_back(pool_level(lv->levels.back()));
    *out = lv.release();
  });
}

void p2p_label_levels_free(void* levels) { delete static_cast<Levels*>(levels); }

// size[0..3] = N, H, W of level `level` (-1 each when there is no such level).
void p2p_label_level_size(void* levels, int64_t level, int64_t* size) {
  const Levels& all = *static_cast<const Levels*>(levels);
  bool ok = level >= 0 && level < static_cast<int64_t>(all.levels.size());
  size[0] = ok ? all.levels[level].n : -1;
  size[1] = ok ? all.levels[level].h : -1;
  size[2] = ok ? all.levels[level].w : -1;
}

// acc += the convolution of label level `level` (the one-hot map pooled that many times), reflection-padded by
// `pad`, with the first label_nc input channels of `weight`. acc: channels-last float32/bfloat16 on the CPU, holding
// the convolution of the other input channels with the bias.
char* p2p_label_conv_add(at::Tensor* acc, void* levels, int64_t level, at::Tensor* weight, int64_t pad) {
  return catching([&] {
    const at::Tensor& o = *acc;
    const at::Tensor& wt = *weight;
    const Levels& all = *static_cast<const Levels*>(levels);
    TORCH_CHECK(level >= 0 && level < static_cast<int64_t>(all.levels.size()), "no label level ", level);
    const Level& lv = all.levels[level];
    const int64_t label_nc = all.nc;
    TORCH_CHECK(fits_kernel(o), "label_conv_add needs a channels-last float32/bfloat16 CPU output");
    TORCH_CHECK(wt.dim() == 4 && wt.size(2) == wt.size(3) && wt.size(1) >= label_nc && wt.size(0) == o.size(1),
                "label_conv_add: weight ", wt.sizes(), " does not fit ", label_nc, " labels and ", o.size(1),
                " outputs");
    int64_t k = wt.size(2), co = wt.size(0);
    TORCH_CHECK(o.size(0) == lv.n && o.size(2) == lv.h + 2 * pad - k + 1 && o.size(3) == lv.w + 2 * pad - k + 1,
                "label_conv_add: output ", o.sizes(), " is not the convolution of level ", level, " (", lv.n, "x",
                lv.h, "x", lv.w, ")");
    TORCH_CHECK(pad < lv.h && pad < lv.w, "reflection padding ", pad, " does not fit ", lv.h, "x", lv.w);
    // table[ky][kx][label][c_out]
    at::Tensor table = wt.narrow(1, 0, label_nc).to(at::kFloat).permute({2, 3, 1, 0}).contiguous();
    if (o.scalar_type() == at::kFloat) {
      level_add_cpu<float>(lv, table.data_ptr<float>(), label_nc, co, k, pad, o.data_ptr<float>(), o.size(2),
                           o.size(3));
    } else {
      level_add_cpu<uint16_t>(lv, table.data_ptr<float>(), label_nc, co, k, pad,
                              reinterpret_cast<uint16_t*>(o.data_ptr()), o.size(2), o.size(3));
    }
  });
}

}
