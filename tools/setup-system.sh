# Installs the Debian packages treerpo builds against, when they are missing. Sourced by the
# quickstart and test scripts; needs root or sudo the first time only. TREERPO_APT_EXTRA names
# more packages (the tests add Open MPI and iproute2 for tools/test_mpi.sh).
read -r -a treerpo_apt_packages <<<"libopenblas-dev ${TREERPO_APT_EXTRA:-}"
treerpo_missing=()
for p in "${treerpo_apt_packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || treerpo_missing+=("$p")
done
if [ ${#treerpo_missing[@]} -gt 0 ]; then
  echo "treerpo: installing ${treerpo_missing[*]} with apt-get" >&2
  treerpo_sudo=""
  [ "$(id -u)" -eq 0 ] || treerpo_sudo="sudo"
  $treerpo_sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $treerpo_sudo apt-get install -y -qq "${treerpo_missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "treerpo: the Swift toolchain (swift) is not on PATH" >&2; exit 1; }
