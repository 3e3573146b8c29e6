#!/usr/bin/env bash
# Install Kallithea 0.7.0 into its own virtualenv, cached under ~/.cache so reruns are instant.
#
# usage:  scripts/kallithea-install.sh          prints the venv path on stdout when done
# env:    RCGATE_CACHE   cache root (default ~/.cache/rcgate)
#         KALLITHEA_PYTHON  interpreter for the venv (default python3; 3.8 and 3.11 are tested)
#
# Kallithea 0.7.0 (2021) declares Python 3.6-3.8 and needs pins to install today:
#   * pip<24.1: celery 5.0.x carries the metadata "pytz (>dev)", which newer pip rejects.
#   * FormEncode 1.3.1 uses setup.py `use_2to3` (setuptools<58) and its setup.py refuses
#     Python>=3.10 (string compare of sys.version): we build its wheel with that check fixed.
#   * mercurial 5.8.1 has no wheels; on Python>=3.11 its C extension needs a 2-line patch
#     (`Py_SIZE(o)--` is no lvalue there).
#   * every other dependency at an exact tested version, so a new upstream release cannot break us.
# Kallithea lives in its own venv because it pins old Pygments, Click, SQLAlchemy, ...
set -euo pipefail
export PIP_DISABLE_PIP_VERSION_CHECK=1

PY=${KALLITHEA_PYTHON:-python3}
PYVER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
PYMINOR=${PYVER#3.}
ROOT=${RCGATE_CACHE:-$HOME/.cache/rcgate}/kallithea-0.7.0-py$PYVER
V=$ROOT/venv
log() { printf '[kallithea-install] %s\n' "$*" >&2; }

if [ -f "$ROOT/.complete" ] && "$V/bin/python" -c 'import kallithea, sys; sys.exit(kallithea.__version__ != "0.7.0")' 2>/dev/null; then
  echo "$V"; exit 0
fi

need_apt=()
command -v git >/dev/null || need_apt+=(git)
command -v gcc >/dev/null || need_apt+=(gcc)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]} from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" python3-dev >/dev/null
fi

if [ "$PYMINOR" -le 8 ]; then
  CONSTRAINTS="alembic==1.4.3 amqp==5.3.1 Babel==2.8.1 backlash==0.4.0 backports.zoneinfo==0.2.1 bcrypt==3.1.7
Beaker==1.14.1 billiard==3.6.4.0 bleach==3.1.3 celery==5.0.5 certifi==2026.10.18 cffi==1.17.1 chardet==5.2.0
click==7.1.2 click-didyoumean==0.3.1 click-plugins==1.1.1.2 click-repl==0.3.0 crank==0.8.1 decorator==4.4.2
docutils==0.16 dulwich==0.19.16 FormEncode==1.3.1 gearbox==0.3.2 hupper==1.12.1 ipaddr==2.2.0 Kallithea==0.7.0
kombu==5.5.4 Mako==1.1.6 Markdown==3.1.1 MarkupSafe==2.1.5 mercurial==5.8.1 packaging==26.2 paginate==0.5.7
paginate-sqlalchemy==0.3.1 Paste==3.4.6 PasteDeploy==3.1.0 prompt-toolkit==3.0.52 pycparser==2.23 Pygments==2.6.1
python-dateutil==2.8.2 python-editor==1.0.4 pytz==2026.6 repoze.lru==0.7 Routes==2.4.1 six==1.17.0
SQLAlchemy==1.3.24 Tempita==0.6.0 tgext.routes==0.2.1 TurboGears2==2.4.3 tzdata==2026.6 urllib3==2.2.3
URLObject==2.4.3 vine==5.1.0 waitress==1.4.4 wcwidth==0.8.5 webencodings==0.5.1 WebHelpers2==2.0 WebOb==1.8.11
Whoosh==2.7.4"
else
  CONSTRAINTS="alembic==1.4.3 amqp==5.4.2 Babel==2.8.1 backlash==0.5.1 bcrypt==3.1.7 Beaker==1.14.1
billiard==3.6.4.0 bleach==3.1.3 celery==5.0.5 certifi==2026.10.18 cffi==2.1.1 chardet==7.7.0 click==7.1.2
click-didyoumean==0.3.1 click-plugins==1.1.1.2 click-repl==0.4.1 crank==0.8.1 decorator==4.4.2 docutils==0.16
dulwich==0.19.16 FormEncode==1.3.1 gearbox==0.5.0 hupper==1.12.1 ipaddr==2.2.0 Kallithea==0.7.0 kombu==5.7.0
Mako==1.1.6 Markdown==3.1.1 MarkupSafe==3.0.4 mercurial==5.8.1 paginate==0.5.7 paginate-sqlalchemy==0.3.1
Paste==3.4.6 PasteDeploy==3.1.0 prompt_toolkit==3.0.53 pycparser==3.12 Pygments==2.6.1 python-dateutil==2.8.2
python-editor==1.0.4 pytz==2026.6 repoze-lru==0.8 Routes==2.4.1 six==1.17.0 SQLAlchemy==1.3.24 Tempita==0.6.0
tgext.routes==0.2.1 TurboGears2==2.4.3 typing_extensions==4.16.0 urllib3==2.8.0 URLObject==2.4.3 vine==5.1.0
waitress==1.4.4 wcwidth==0.9.4 webencodings==0.6.1 WebHelpers2==2.0 WebOb==1.8.11 Whoosh==2.7.4"
fi

log "installing Kallithea 0.7.0 for Python $PYVER into $ROOT (first run only, a few minutes)"
rm -rf "$ROOT"; mkdir -p "$ROOT"
printf '%s\n' $CONSTRAINTS > "$ROOT/constraints.txt"
B=$ROOT/build/venv                     # throw-away venv: setuptools<58 for FormEncode's use_2to3
"$PY" -m venv "$B"
"$B/bin/python" -m pip install -q 'pip>=21,<24.1' 'setuptools<58' 'wheel<0.46'
mkdir -p "$ROOT/wheels" "$ROOT/build/tmp" "$ROOT/build/dl" "$ROOT/build/src"

log "building FormEncode 1.3.1 wheel"
# `pip download` fails on Python>=3.10 while preparing metadata; --no-clean keeps the sdist.
TMPDIR=$ROOT/build/tmp "$B/bin/python" -m pip download -q --no-deps --no-binary :all: --no-build-isolation \
    --no-clean -d "$ROOT/build/dl" FormEncode==1.3.1 >"$ROOT/build/formencode-download.log" 2>&1 || true
if [ -f "$ROOT/build/dl/FormEncode-1.3.1.tar.gz" ]; then
  tar xzf "$ROOT/build/dl/FormEncode-1.3.1.tar.gz" -C "$ROOT/build/src"; fe_src=$ROOT/build/src/FormEncode-1.3.1
else
  fe_setup=$(find "$ROOT/build/tmp" -maxdepth 3 -path '*formencode*' -name setup.py | head -1)
  [ -n "$fe_setup" ] || { log "could not obtain the FormEncode 1.3.1 sdist"; cat "$ROOT/build/formencode-download.log" >&2; exit 1; }
  fe_src=$(dirname "$fe_setup")
fi
sed -i "s/^if not '2.6' <= sys.version < '3.0' and not '3.2' <= sys.version:/if sys.version_info < (3, 2):/" "$fe_src/setup.py"
(cd "$fe_src" && "$B/bin/python" setup.py -q bdist_wheel -d "$ROOT/wheels" >"$ROOT/build/formencode-build.log" 2>&1)

if [ "$PYMINOR" -ge 11 ]; then
  log "building patched mercurial 5.8.1 wheel (C extensions, about a minute)"
  "$B/bin/python" -m pip download -q --no-deps --no-binary :all: -d "$ROOT/build/dl" mercurial==5.8.1
  tar xzf "$ROOT/build/dl/mercurial-5.8.1.tar.gz" -C "$ROOT/build/src"
  sed -i 's/Py_SIZE(newobj)--;/Py_SET_SIZE(newobj, Py_SIZE(newobj) - 1);/' \
      "$ROOT/build/src/mercurial-5.8.1/mercurial/cext/pathencode.c"
  "$B/bin/python" -m pip wheel -q --no-deps -w "$ROOT/wheels" "$ROOT/build/src/mercurial-5.8.1" \
      >"$ROOT/build/mercurial-build.log" 2>&1
fi

"$PY" -m venv "$V"
"$V/bin/python" -m pip install -q 'pip>=21,<24.1'
log "pip install kallithea==0.7.0"
"$V/bin/python" -m pip install -q --find-links "$ROOT/wheels" -c "$ROOT/constraints.txt" kallithea==0.7.0 \
    2> >(grep -v -E "DEPRECATION: (celery 5.0.5 has a non-standard|.* is being installed using the legacy)" >&2)
rm -rf "$ROOT/build"
touch "$ROOT/.complete"
log "done"
echo "$V"
