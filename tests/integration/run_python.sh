#!/usr/bin/env bash
# Runs workload.py through compare.sh with /usr/bin/python3 (the distribution's interpreter),
# or python3 from PATH when there is none.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
if [[ ! -x $py ]]; then
  py=$(command -v python3) || { echo "run_python.sh: python3 is not installed (scripts/setup installs it)" >&2; exit 1; }
fi
exec "$here/compare.sh" "$py" "$here/workload.py"
