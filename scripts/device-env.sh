# Sourced on the lent GPU machine (no Rust, no Go there) before running offload's binaries:
# unpacks the carried Vulkan loader (.gl/*.deb, see the device README) when the image has
# none, points Vulkan at the NVIDIA ICD, and puts CUDA 13's NVRTC/cuBLAS/cuRAND (from the
# toolkit or PyTorch's pip wheels) on LD_LIBRARY_PATH.
# The NVIDIA Vulkan ICD needs libglvnd's libGLdispatch beside the loader, so both are checked.
if ! { ldconfig -p | grep -q 'libvulkan.so.1' && ldconfig -p | grep -q 'libGLdispatch.so.0'; } \
  && ls .gl/*.deb >/dev/null 2>&1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
fi
_offload_cuda_libs=$(python3 -c 'import glob,os
d=set(os.path.dirname(p) for p in glob.glob("/usr/local/cuda/lib64/lib*.so*")+glob.glob("/usr/local/cuda/targets/x86_64-linux/lib/lib*.so*"))
try:
    import nvidia
    for b in nvidia.__path__:
        d.update(os.path.dirname(p) for p in glob.glob(os.path.join(b,"**","lib*.so*"),recursive=True) if any(k in p for k in ("nvrtc","cublas","curand")))
except ImportError: pass
print(":".join(sorted(d)))' 2>/dev/null || true)
export LD_LIBRARY_PATH="${_offload_cuda_libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/offload-xdg}
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
# The binaries scripts/device-pack.sh packed (carry .device, or .device/cli.tar.xz alone):
# unpacked into .device/bin/.
for _offload_tar in .device/cli.tar.xz .device/bench.tar.xz; do
  [ -f "$_offload_tar" ] && tar xJf "$_offload_tar" -C .device
done
