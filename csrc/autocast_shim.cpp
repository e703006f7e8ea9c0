// A C entry point to LibTorch's per-device autocast settings, which tch 0.24 does not expose (it only switches the
// CUDA autocast on and off, always at float16). `pix2pixhd train --amp bf16` needs the autocast dtype.
//
// The enums are declared opaquely with their real underlying type (int8_t), which is all the call needs: the
// functions' mangled names depend only on the qualified names, and both enums are passed as int8_t.
#include <cstdint>

namespace c10 {
enum class DeviceType : int8_t;
enum class ScalarType : int8_t;
}  // namespace c10

namespace at {
namespace autocast {
bool is_autocast_enabled(c10::DeviceType device_type);
void set_autocast_enabled(c10::DeviceType device_type, bool enabled);
c10::ScalarType get_autocast_dtype(c10::DeviceType device_type);
void set_autocast_dtype(c10::DeviceType device_type, c10::ScalarType dtype);
}  // namespace autocast
}  // namespace at

extern "C" {
int p2p_autocast_is_enabled(int8_t device_type) {
  return at::autocast::is_autocast_enabled(static_cast<c10::DeviceType>(device_type)) ? 1 : 0;
}
void p2p_autocast_set_enabled(int8_t device_type, int enabled) {
  at::autocast::set_autocast_enabled(static_cast<c10::DeviceType>(device_type), enabled != 0);
}
int8_t p2p_autocast_get_dtype(int8_t device_type) {
  return static_cast<int8_t>(at::autocast::get_autocast_dtype(static_cast<c10::DeviceType>(device_type)));
}
void p2p_autocast_set_dtype(int8_t device_type, int8_t dtype) {
  at::autocast::set_autocast_dtype(static_cast<c10::DeviceType>(device_type), static_cast<c10::ScalarType>(dtype));
}
}
