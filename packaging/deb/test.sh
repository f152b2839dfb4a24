#!/usr/bin/env bash
# Installs a built kgent package on this host, checks it, and removes it again, leaving the host
# as it was: dpkg -i; kgentd --print-config reads the conffile (and an edit of it);
# systemd-analyze verify passes on the installed units; man kgentctl and man kgentd render;
# the group exists and kgentd.socket is enabled; dpkg -r removes every file but the conffile;
# dpkg -P removes the conffile and the socket's enablement.
#
#   packaging/deb/test.sh target/debian/kgent_0.1.0_amd64.deb      (root)
#
# It never starts a unit (a policy-rc.d that refuses is in place while the package is
# installed, as in containers), so a kgentd already running here is not disturbed. It touches
# only paths the package owns, and runs only where none of them exists yet and the package is
# not installed: otherwise it says why and exits 77 (skipped). What the maintainer scripts
# create beyond the package's files (group kgent, /run/kgent, /var/lib/kgent) is removed or
# restored at the end when it did not exist before.
set -euo pipefail
deb=${1:?usage: test.sh PACKAGE.deb}
say() { printf '[deb test] %s\n' "$*" >&2; }
fail() { printf '[deb test] FAIL: %s\n' "$*" >&2; exit 1; }
skip() { printf '[deb test] skipped: %s\n' "$*" >&2; exit 77; }

[ "$(id -u)" = 0 ] || fail "run as root (dpkg -i)"
pkg=$(dpkg-deb -f "$deb" Package)
if dpkg-query -W -f '${db:Status-Status}' "$pkg" 2>/dev/null | grep -qv '^not-installed$'; then
    skip "$pkg is installed (or half-installed) on this host; this test would remove it"
fi
# Every path the package ships, without the directories others share.
mapfile -t files < <(dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -e 's|^\./|/|' -e '/\/$/d')
present=()
for f in "${files[@]}"; do [ -e "$f" ] || [ -L "$f" ] && present+=("$f"); done
[ ${#present[@]} -eq 0 ] || skip "these paths exist already and would be replaced: ${present[*]}"
[ -e /etc/systemd/system/sockets.target.wants/kgentd.socket ] && skip "kgentd.socket is enabled here already"

# What to restore afterwards.
had_group=$(getent group kgent >/dev/null && echo yes || echo no)
state_of() { [ -e "$1" ] && stat -c '%a %u %g' "$1" || echo absent; }
run_dir=$(state_of /run/kgent)
lib_dir=$(state_of /var/lib/kgent)
policy=/usr/sbin/policy-rc.d
had_policy=$([ -e "$policy" ] && echo yes || echo no)

restore_dir() { # DIR STATE
    case "$2" in
        absent) rm -rf --one-file-system "$1" ;;
        *) set -- "$1" $2; chmod "$2" "$1"; chown "$3:$4" "$1" ;;
    esac
}
cleanup() {
    local rc=$?
    if dpkg-query -W -f '${db:Status-Status}' "$pkg" 2>/dev/null | grep -qv '^not-installed$'; then
        dpkg -P "$pkg" >/dev/null 2>&1 || say "cleanup: dpkg -P $pkg failed"
    fi
    [ "$had_policy" = no ] && rm -f "$policy"
    [ "$had_group" = no ] && getent group kgent >/dev/null && groupdel kgent
    [ -e /run/kgent ] && restore_dir /run/kgent "$run_dir"
    [ -e /var/lib/kgent ] && restore_dir /var/lib/kgent "$lib_dir"
    exit $rc
}
trap cleanup EXIT
if [ "$had_policy" = no ]; then
    printf '#!/bin/sh\n# kgent package test: no service starts while it runs.\nexit 101\n' > "$policy"
    chmod 0755 "$policy"
fi

say "dpkg -i $(basename "$deb")"
DEBIAN_FRONTEND=noninteractive dpkg -i "$deb" >/dev/null
[ "$(dpkg-query -W -f '${db:Status-Status}' "$pkg")" = installed ] || fail "not installed"
getent group kgent >/dev/null || fail "postinst did not create group kgent"
[ -L /etc/systemd/system/sockets.target.wants/kgentd.socket ] || fail "kgentd.socket is not enabled"
[ "$(stat -c '%a %G' /run/kgent)" = "750 kgent" ] || fail "/run/kgent is not 0750 root:kgent"

say "kgentd --print-config reads /etc/kgent/kgentd.toml"
[ "$(command -v kgentd)" = /usr/sbin/kgentd ] || PATH=/usr/sbin:$PATH
/usr/sbin/kgentd --print-config | grep -qx 'socket = "/run/kgent/kgent.sock"' \
    || fail "kgentd --print-config does not read the shipped conffile"
sed -i 's/^# max_iterations = 5$/max_iterations = 7/' /etc/kgent/kgentd.toml
/usr/sbin/kgentd --print-config | grep -qx 'max_iterations = 7' \
    || fail "kgentd --print-config does not show an edit of /etc/kgent/kgentd.toml"

say "systemd-analyze verify on the installed units"
verify=$(systemd-analyze verify /lib/systemd/system/kgentd.socket /lib/systemd/system/kgentd.service 2>&1) \
    || fail "systemd-analyze verify: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify warns: $verify"

say "man pages and completions"
for page in kgentctl kgentctl-probes-search "8 kgentd" kgentd-bench; do
    # shellcheck disable=SC2086
    shown=$(MANWIDTH=80 man --warnings $page 2>&1) || fail "man $page: $shown"
    name=${page#8 }
    grep -q "^NAME" <<<"$shown" && grep -q "$name" <<<"$shown" || fail "man $page does not render: $shown"
    grep -qi warning <<<"$shown" && fail "man $page warns: $shown"
done
bash --norc -c 'source /usr/share/bash-completion/completions/kgentctl && complete -p kgentctl' >/dev/null \
    || fail "the bash completion does not load"
[ -s /usr/share/zsh/vendor-completions/_kgentctl ] && [ -s /usr/share/fish/vendor_completions.d/kgentctl.fish ] \
    || fail "zsh or fish completions missing"

say "dpkg -r keeps only the conffile"
dpkg -r "$pkg" >/dev/null
[ "$(dpkg-query -W -f '${db:Status-Status}' "$pkg")" = config-files ] || fail "not in config-files state after dpkg -r"
for f in "${files[@]}"; do
    case "$f" in
        /etc/kgent/kgentd.toml) [ -f "$f" ] || fail "dpkg -r removed the conffile $f" ;;
        *) [ -e "$f" ] && fail "dpkg -r left $f" ;;
    esac
done
grep -qx 'max_iterations = 7' /etc/kgent/kgentd.toml || fail "the edited conffile did not survive dpkg -r"

say "dpkg -P removes the rest"
dpkg -P "$pkg" >/dev/null
dpkg-query -W -f '${db:Status-Status}' "$pkg" 2>/dev/null | grep -qv '^not-installed$' && fail "still known to dpkg after dpkg -P"
[ -e /etc/kgent ] && fail "dpkg -P left /etc/kgent"
[ -e /etc/systemd/system/sockets.target.wants/kgentd.socket ] && fail "dpkg -P left kgentd.socket enabled"
ls /var/lib/systemd/deb-systemd-helper-enabled/ 2>/dev/null | grep -q kgentd && fail "dpkg -P left deb-systemd-helper state"
say "ok"
