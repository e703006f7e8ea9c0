// LibTorch's fused Adam kernel (`at::_fused_adam_`, what `torch.optim.Adam(fused=True)` runs), which tch 0.24 does
// not expose. One pass over each parameter, m and v, instead of the several element-wise ops an Adam written with
// tensor operations makes. `tch` tensors are `at::Tensor*` underneath (torch-sys' `C_tensor`).
#include <ATen/core/Tensor.h>
#include <ATen/ops/_fused_adam.h>

#include <cstring>
#include <exception>
#include <vector>

extern "C" {
// Updates params[i] in place from grads[i], with the moments exp_avgs[i] / exp_avg_sqs[i] (updated in place) and
// the step count in steps[i] (already incremented by the caller, as PyTorch does). Returns NULL, or an error message
// the caller frees with free().
char* p2p_fused_adam(at::Tensor** params, at::Tensor** grads, at::Tensor** exp_avgs, at::Tensor** exp_avg_sqs,
                     at::Tensor** steps, size_t n, double lr, double beta1, double beta2, double eps) {
  try {
    std::vector<at::Tensor> p, g, m, v, s;
    p.reserve(n);
    g.reserve(n);
    m.reserve(n);
    v.reserve(n);
    s.reserve(n);
    for (size_t i = 0; i < n; i++) {
      p.push_back(*params[i]);
      g.push_back(*grads[i]);
      m.push_back(*exp_avgs[i]);
      v.push_back(*exp_avg_sqs[i]);
      s.push_back(*steps[i]);
    }
    at::_fused_adam_(p, g, m, v, /*max_exp_avg_sqs=*/{}, s, lr, beta1, beta2, /*weight_decay=*/0.0, eps,
                     /*amsgrad=*/false, /*maximize=*/false);
    return nullptr;
  } catch (const std::exception& e) {
    return strdup(e.what());
  }
}
}
