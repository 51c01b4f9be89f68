# The GPU machine's WebGPU set-up, shared by bench/wgsl/h200.sh and bench/wgsl/tune-h200.sh (sourced
# after they define say and OUT).
#   gpu_vulkan          the Vulkan loader and GLVND from .gl/*.deb, the NVIDIA ICD (not in --dry-run)
#   gpu_node            the carried Node and dawn.node unpacked; sets NODE
#   gpu_env_txt LINE... $OUT/env.txt: date, Node, git, the given lines, the driver and Vulkan set-up
gpu_vulkan() {
  say "unpacking .gl/*.deb (Vulkan loader, GLVND)"
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
}

gpu_node() {
  export EGL_PLATFORM=surfaceless
  say "unpacking the carried Node and dawn.node"
  xz -dc .gpu/node.xz > .gpu/node && chmod +x .gpu/node
  local dawn=.gpu/node_modules/webgpu/dist/linux-x64/dawn.node
  [ -s "$dawn" ] || xz -dc "$dawn.xz" > "$dawn"
  NODE="$PWD/.gpu/node"
}

gpu_env_txt() {
  {
    echo "date: $(date -u +%FT%TZ)"
    echo "node: $("$NODE" --version) (built on $(cat .gpu/node.version 2>/dev/null))"
    echo "git: $(git rev-parse HEAD 2>/dev/null || echo '(no .git)') $(git status --porcelain 2>/dev/null | wc -l) changed files"
    for line in "$@"; do echo "$line"; done
    nvidia-smi 2>&1 | head -20
    ldconfig -p | grep -E 'libvulkan|libGLX|libEGL' || true
    ls -la "${VK_DRIVER_FILES:-/nonexistent}" 2>&1
    uname -a
    nproc
  } > "$OUT/env.txt" 2>&1
  say "node $("$NODE" --version); env in env.txt"
}
