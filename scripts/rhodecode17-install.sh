#!/usr/bin/env bash
# Install RhodeCode 1.7.2 (the Pylons server, Python 2.7) into its own virtualenv, cached
# under ~/.cache so reruns are instant.
#
# usage:  scripts/rhodecode17-install.sh     prints the venv path on stdout when done
# env:    RCGATE_CACHE        cache root (default ~/.cache/rcgate)
#         RHODECODE17_PYTHON  the Python 2.7 interpreter (default: pyenv's 2.7.18, else python2.7)
# exit:   0 done; 3 no usable Python 2.7 here (one line on stderr says why); else a failure
#
# Only PyPI is used (pip's own config files, find-links and extra indexes are ignored).
# RhodeCode 1.7.2 (2013) needs three fixes and a pin list to install today:
#   * dulwich: RhodeCode wants >=0.8.7,<0.9.0, but PyPI serves no dulwich older than 0.9.1;
#     its setup.py is relaxed to <0.9.2 and 0.9.1 is used (git create/clone/push work).
#   * setup.cfg's [easy_install] find_links (a dead host, off PyPI) is dropped.
#   * kombu 1.5.1 imports uuid._uuid_generate_random, gone since Python 2.7.11 (bpo-25515);
#     every page that imports celery would fail: the import falls back to None (an optional
#     fast path only).
#   * everything RhodeCode or Pylons 1.0 leaves open is pinned to the release of that time,
#     so today's py3-only or API-changed releases are never picked.
# Building needs gcc (installed from Debian if missing) and the Python 2.7 headers (a
# pyenv-built 2.7.18 has them); RhodeCode needs git on PATH for git repositories.
set -euo pipefail

ROOT=${RCGATE_CACHE:-$HOME/.cache/rcgate}/rhodecode-1.7.2-py2.7
V=$ROOT/venv
VPY=$V/bin/python
log() { printf '[rhodecode17-install] %s\n' "$*" >&2; }
no_python27() { printf '[rhodecode17-install] no usable Python 2.7: %s\n' "$*" >&2; exit 3; }

if [ -f "$ROOT/.complete" ] && "$VPY" -c 'import rhodecode, sys; sys.exit(rhodecode.__version__ != "1.7.2")' 2>/dev/null; then
  echo "$V"; exit 0
fi

# --------------------------------------------------------------------------- Python 2.7
find_python27() {
  if [ -n "${RHODECODE17_PYTHON:-}" ]; then echo "$RHODECODE17_PYTHON"; return; fi
  local p
  if command -v pyenv >/dev/null 2>&1 && p=$(pyenv prefix 2.7.18 2>/dev/null) && [ -x "$p/bin/python2.7" ]; then
    echo "$p/bin/python2.7"; return
  fi
  p=${PYENV_ROOT:-$HOME/.pyenv}/versions/2.7.18/bin/python2.7
  if [ -x "$p" ]; then echo "$p"; return; fi
  command -v python2.7 2>/dev/null || true
}
PY=$(find_python27)
[ -n "$PY" ] || no_python27 "neither pyenv's 2.7.18 nor python2.7 on PATH (set RHODECODE17_PYTHON)"
[ -x "$PY" ] || command -v "$PY" >/dev/null 2>&1 || no_python27 "$PY does not exist"
"$PY" -c 'import sys, sqlite3, zlib, ssl; sys.exit(sys.version_info[:2] != (2, 7))' 2>/dev/null \
  || no_python27 "$PY is not a Python 2.7 with the sqlite3, zlib and ssl modules"
INC=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
[ -f "$INC/Python.h" ] || no_python27 "$PY has no headers ($INC/Python.h); Mercurial's C code needs them"

need_apt=()
command -v git >/dev/null || need_apt+=(git)
command -v gcc >/dev/null || need_apt+=(gcc)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]} from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" libc6-dev >/dev/null
fi

# ---------------------------------------------------------------------------------- pip
# Only PyPI: no machine-local config, find-links, extra indexes or constraints.
export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_PYTHON_VERSION_WARNING=1
unset PIP_FIND_LINKS PIP_EXTRA_INDEX_URL PIP_NO_INDEX PIP_CONSTRAINT PIP_REQUIREMENT PIP_TARGET PIP_PREFIX PIP_USER || true
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV || true

# RhodeCode 1.7.2's own == pins (repeated so the whole set is locked), then the nearest
# releases PyPI still serves for what RhodeCode and Pylons 1.0 leave open.
CONSTRAINTS="
Pylons==1.0
WebOb==1.0.8
WebTest==1.4.3
waitress==0.8.4
Beaker==1.6.4
WebHelpers==1.3
FormEncode==1.2.4
SQLAlchemy==0.7.10
Mako==0.7.3
Markdown==2.2.1
docutils==0.8.1
simplejson==2.5.2
mercurial==2.6.3
dulwich==0.9.1
Whoosh==2.4.1
celery==2.2.10
kombu==1.5.1
amqplib==1.0.2
anyjson==0.3.3
pyparsing==1.5.7
python-dateutil==1.5
Pygments==1.6
Babel==0.9.6
mock==1.0.1
py-bcrypt==0.4
PasteScript==1.7.5
Paste==1.7.5.1
PasteDeploy==1.5.0
WebError==0.10.3
Tempita==0.5.1
Routes==1.13
repoze.lru==0.6
decorator==3.4.0
nose==1.3.0
MarkupSafe==0.18
"
# Why the open ones are what they are:
#   dulwich 0.9.1     nearest to RhodeCode's <0.9.0 that PyPI serves (setup.py relaxed below)
#   Whoosh 2.4.1      RhodeCode: >=2.4.0,<2.5
#   celery 2.2.10     RhodeCode: >=2.2.5,<2.3; it wants kombu<2.0 (1.5.1, patched below),
#                     amqplib, anyjson, pyparsing<2.0, python-dateutil<2.0
#   Pygments 1.6      RhodeCode: >=1.5; 2.x changed lexers/formatters
#   Babel 0.9.6       unpinned upstream; newer ones need pytz, 2.10+ is py3-only
#   mock 1.0.1        unpinned upstream; 4.x is py3-only, 2.x/3.x pull in pbr/funcsigs
#   py-bcrypt 0.4     the last release; builds with gcc 12
#   PasteScript 1.7.5 Pylons' setup_requires would otherwise fetch the py3-only 3.x:
#                     installed first so setup_requires is already satisfied
#   Routes 1.13       Routes 2.x changed URL generation defaults
#   decorator 3.4.0   5.x is py3-only

install_all() {
  local t0=$SECONDS
  log "installing RhodeCode 1.7.2 with $PY into $ROOT (first run only, about a minute)"
  rm -rf "$ROOT"; mkdir -p "$ROOT"
  printf '%s\n' $CONSTRAINTS > "$ROOT/constraints.txt"
  # virtualenv 16.7.12: the last single-file virtualenv; it ships pip 20.3.4 and
  # setuptools 44.1.1 (the last py2 releases), so --no-download works.  It goes into a
  # private --target dir: the Python 2.7 installation itself is left untouched.
  "$PY" -m pip install -q --target "$ROOT/boot" 'virtualenv==16.7.12' \
    2> >(grep -v '^DEPRECATION: Python 2.7 will reach the end of its life' >&2)
  PYTHONPATH=$ROOT/boot "$PY" -m virtualenv -q --no-download "$V"
  rm -rf "$ROOT/boot"
  local pip=("$VPY" -m pip install -q -c "$ROOT/constraints.txt")

  "${pip[@]}" PasteScript

  # RhodeCode's sdist, patched before it is installed (see the header).
  local src=$ROOT/build sd=$ROOT/build/RhodeCode-1.7.2
  mkdir -p "$src"
  "$VPY" -m pip download -q --no-deps --no-binary :all: -d "$src" 'RhodeCode==1.7.2'
  tar xzf "$src/RhodeCode-1.7.2.tar.gz" -C "$src"
  sed -i 's/"dulwich>=0.8.7,<0.9.0"/"dulwich>=0.8.7,<0.9.2"/' "$sd/setup.py"
  grep -q '"dulwich>=0.8.7,<0.9.2"' "$sd/setup.py" || { log "the dulwich pin of setup.py did not patch"; exit 1; }
  sed -i '/^\[easy_install\]/,/^$/d' "$sd/setup.cfg"
  ! grep -q 'find_links' "$sd/setup.cfg" || { log "setup.cfg still has find_links"; exit 1; }

  log "pip install RhodeCode 1.7.2 (builds the C code of mercurial, sqlalchemy, dulwich, py-bcrypt)"
  "${pip[@]}" "$sd"

  local kf
  kf=$("$VPY" -c 'import os, imp; print(os.path.join(imp.find_module("kombu")[1], "utils", "__init__.py"))')
  if grep -q '^from uuid import UUID, uuid4 as _uuid4, _uuid_generate_random$' "$kf"; then
    sed -i 's/^from uuid import UUID, uuid4 as _uuid4, _uuid_generate_random$/from uuid import UUID, uuid4 as _uuid4\ntry:\n    from uuid import _uuid_generate_random\nexcept ImportError:  # gone since Python 2.7.11 (bpo-25515)\n    _uuid_generate_random = None/' "$kf"
    rm -f "${kf}c"
  fi

  # The C extensions really built, the app imports, the requirements are consistent.
  "$VPY" -c 'import mercurial.parsers, mercurial.osutil, mercurial.bdiff, dulwich._objects, bcrypt, sqlalchemy.cprocessors, kombu.utils, celery.messaging, rhodecode.config.middleware, rhodecode, sys; sys.exit(rhodecode.__version__ != "1.7.2")'
  "$V/bin/hg" --version -q >/dev/null
  "$VPY" -m pip check >/dev/null
  rm -rf "$src"
  touch "$ROOT/.complete"
  log "done in $((SECONDS - t0)) s"
}
install_all >&2
echo "$V"
