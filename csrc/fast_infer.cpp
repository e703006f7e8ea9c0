// The fast inference path's kernels (`src/model/fast.rs`), C entry points into LibTorch for what tch 0.24 does not
// expose (memory formats, the CPU's bf16 support) and two CPU kernels eager PyTorch does not have:
//
// - `p2p_norm_act`: instance norm (statistics in float32, eps 1e-5) -> optional ReLU -> optional residual sum, in one
//   pass over a channels-last input, writing straight into the interior of an optionally reflection-padded output
//   (the next convolution's input). Eager PyTorch runs instance norm on channels-last data by copying it to NCHW
//   and back; this reads the input twice (statistics, output) and writes once.
// - `p2p_onehot_conv_add`: the part of a convolution whose input channels are a one-hot label map, as a lookup:
//   each output pixel adds, for each of the k*k taps, the weight column of the label under that tap. A 7x7
//   convolution of 35 one-hot channels costs 49 additions of a C_out vector per pixel instead of 35*49 MACs.
//
// Both work on float32 and bfloat16, N >= 1, on the CPU. Other devices and types take the same maths in ATen ops
// (`p2p_norm_act`) or are refused (`p2p_onehot_conv_add`; the Rust side then runs the plain convolution).
// Errors come back as a strdup'ed message the caller frees; results as a new at::Tensor* (tch's C_tensor).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/Utils.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
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

// One output row of the one-hot convolution: acc[x, :] = sum over taps (ky, kx) of table[ky][kx][rows[ky][x + kx]]
// ([k][k][nc][co] floats; `rows` are the k reflection-padded label rows under the output row). Each pixel sums its
// k*k weight columns in registers; the C_out loop has a constant trip count in the common widths.
template <int CO>
__attribute__((always_inline)) inline void gather_row(const uint8_t* const* __restrict rows,
                                                      const float* __restrict table, float* __restrict acc,
                                                      int64_t ow, int64_t k, int64_t nc, int64_t co) {
  const int64_t n = CO > 0 ? CO : co;
  for (int64_t x = 0; x < ow; x++) {
    float r[CO > 0 ? CO : 1] = {};
    float* out = acc + x * n;
    if (CO == 0) std::fill(out, out + n, 0.f);
    for (int64_t ky = 0; ky < k; ky++) {
      const uint8_t* lr = rows[ky] + x;
      const float* t = table + ky * k * nc * n;
      for (int64_t kx = 0; kx < k; kx++) {
        const float* wv = t + (kx * nc + lr[kx]) * n;
        if constexpr (CO > 0) {
          for (int j = 0; j < CO; j++) r[j] += wv[j];
        } else {
          for (int64_t j = 0; j < n; j++) out[j] += wv[j];
        }
      }
    }
    if constexpr (CO > 0) {
      for (int j = 0; j < CO; j++) out[j] = r[j];
    }
  }
}

P2P_CLONES void p2p_gather_row(const uint8_t* const* rows, const float* table, float* acc, int64_t ow, int64_t k,
                               int64_t nc, int64_t co) {
  switch (co) {
    case 8:
      return gather_row<8>(rows, table, acc, ow, k, nc, co);
    case 16:
      return gather_row<16>(rows, table, acc, ow, k, nc, co);
    case 32:
      return gather_row<32>(rows, table, acc, ow, k, nc, co);
    default:
      return gather_row<0>(rows, table, acc, ow, k, nc, co);
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

// out[i, :, y, x] += sum over taps (ky, kx) of table[ky][kx][label[i, y + ky - pad, x + kx - pad]][:], the labels
// read with reflection at the borders (as the reflection-padded one-hot input would give them).
template <typename T>
void onehot_add_cpu(const uint8_t* labels, int64_t n_items, int64_t h, int64_t w, const float* table, int64_t nc,
                    int64_t co, int64_t k, int64_t pad, T* out, int64_t oh, int64_t ow) {
  auto reflect = [](int64_t v, int64_t n) {
    if (v < 0) v = -v;
    if (v >= n) v = 2 * (n - 1) - v;
    return v;
  };
  int64_t ph = h + 2 * pad, pw = w + 2 * pad;
  std::vector<uint8_t> padded(n_items * ph * pw);
  std::vector<int64_t> cols(pw);
  for (int64_t x = 0; x < pw; x++) cols[x] = reflect(x - pad, w);
  at::parallel_for(0, n_items * ph, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      int64_t i = r / ph, y = r % ph;
      const uint8_t* src = labels + (i * h + reflect(y - pad, h)) * w;
      uint8_t* dst = padded.data() + r * pw;
      for (int64_t x = 0; x < pw; x++) dst[x] = src[cols[x]];
    }
  });
  at::parallel_for(0, n_items * oh, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> acc(ow * co);
    std::vector<const uint8_t*> rows(k);
    for (int64_t r = begin; r < end; r++) {
      int64_t i = r / oh, y = r % oh;
      for (int64_t ky = 0; ky < k; ky++) rows[ky] = padded.data() + (i * ph + y + ky) * pw;
      p2p_gather_row(rows.data(), table, acc.data(), ow, k, nc, co);
      T* orow = out + (i * oh + y) * ow * co;
      if constexpr (std::is_same_v<T, float>) {
        p2p_add_f32(orow, acc.data(), ow * co);
      } else {
        p2p_add_bf16(orow, acc.data(), ow * co);
      }
    }
  });
}

// out[i, :, oy, ox] = the one-hot of labels averaged over the 3x3 window at (2 oy, 2 ox), padding 1 not counted:
// AvgPool2d(3, 2, 1, count_include_pad=False) of the one-hot map, from the labels.
template <typename T>
void onehot_pool_cpu(const uint8_t* labels, int64_t n_items, int64_t h, int64_t w, int64_t nc, T* out, int64_t oh,
                     int64_t ow) {
  at::parallel_for(0, n_items * oh, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      int64_t i = r / oh, oy = r % oh;
      int64_t y0 = std::max<int64_t>(0, 2 * oy - 1), y1 = std::min<int64_t>(h, 2 * oy + 2);
      T* orow = out + r * ow * nc;
      std::memset(orow, 0, ow * nc * sizeof(T));  // +0.0 in float32 and bfloat16 alike
      for (int64_t ox = 0; ox < ow; ox++) {
        int64_t x0 = std::max<int64_t>(0, 2 * ox - 1), x1 = std::min<int64_t>(w, 2 * ox + 2);
        uint8_t win[9];
        int n = 0;
        for (int64_t y = y0; y < y1; y++) {
          const uint8_t* lrow = labels + (i * h + y) * w;
          for (int64_t x = x0; x < x1; x++) win[n++] = lrow[x];
        }
        float inv = 1.f / static_cast<float>(n);
        T* o = orow + ox * nc;
        for (int a = 0; a < n; a++) {
          int count = 0;
          for (int b = 0; b < n; b++) count += win[a] == win[b];
          if constexpr (std::is_same_v<T, float>) {
            o[win[a]] = count * inv;
          } else {
            o[win[a]] = f2bf(count * inv);
          }
        }
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
char* p2p_onehot_conv_add(at::Tensor* acc, at::Tensor* labels, at::Tensor* weight, int64_t label_nc, int64_t pad) {
  return catching([&] {
    const at::Tensor& o = *acc;
    const at::Tensor& l = *labels;
    const at::Tensor& wt = *weight;
    TORCH_CHECK(fits_kernel(o), "onehot_conv_add needs a channels-last float32/bfloat16 CPU output");
    check_labels(l, label_nc);
    TORCH_CHECK(wt.dim() == 4 && wt.size(2) == wt.size(3) && wt.size(1) >= label_nc && wt.size(0) == o.size(1),
                "onehot_conv_add: weight ", wt.sizes(), " does not fit ", label_nc, " labels and ", o.size(1),
                " outputs");
    int64_t n = l.size(0), h = l.size(1), w = l.size(2), k = wt.size(2), co = wt.size(0);
    TORCH_CHECK(o.size(0) == n && o.size(2) == h + 2 * pad - k + 1 && o.size(3) == w + 2 * pad - k + 1,
                "onehot_conv_add: output ", o.sizes(), " is not the convolution of ", l.sizes());
    TORCH_CHECK(pad < h && pad < w, "reflection padding ", pad, " does not fit ", h, "x", w);
    // table[ky][kx][label][c_out]
    at::Tensor table = wt.narrow(1, 0, label_nc).to(at::kFloat).permute({2, 3, 1, 0}).contiguous();
    if (o.scalar_type() == at::kFloat) {
      onehot_add_cpu<float>(l.data_ptr<uint8_t>(), n, h, w, table.data_ptr<float>(), label_nc, co, k, pad,
                            o.data_ptr<float>(), o.size(2), o.size(3));
    } else {
      onehot_add_cpu<uint16_t>(l.data_ptr<uint8_t>(), n, h, w, table.data_ptr<float>(), label_nc, co, k, pad,
                               reinterpret_cast<uint16_t*>(o.data_ptr()), o.size(2), o.size(3));
    }
  });
}

// *out = AvgPool2d(3, 2, 1, count_include_pad=False) of the one-hot encoding of `labels` ([N, H, W] uint8, values
// < label_nc), channels-last [N, label_nc, ceil(H/2), ceil(W/2)], of `kind` (6 float32, 15 bfloat16).
char* p2p_onehot_downsample(at::Tensor* labels, int64_t label_nc, int8_t kind, at::Tensor** out) {
  return catching([&] {
    const at::Tensor& l = *labels;
    check_labels(l, label_nc);
    auto st = static_cast<at::ScalarType>(kind);
    TORCH_CHECK(st == at::kFloat || st == at::kBFloat16, "onehot_downsample makes float32 or bfloat16");
    int64_t n = l.size(0), h = l.size(1), w = l.size(2), oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1;
    at::Tensor o = at::empty({n, label_nc, oh, ow}, l.options().dtype(st).memory_format(at::MemoryFormat::ChannelsLast));
    if (st == at::kFloat) {
      onehot_pool_cpu<float>(l.data_ptr<uint8_t>(), n, h, w, label_nc, o.data_ptr<float>(), oh, ow);
    } else {
      onehot_pool_cpu<uint16_t>(l.data_ptr<uint8_t>(), n, h, w, label_nc, reinterpret_cast<uint16_t*>(o.data_ptr()),
                                oh, ow);
    }
    *out = new at::Tensor(o);
  });
}
}
