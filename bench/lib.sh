# bench/lib.sh: shell functions the bench scripts share. Source it.

# scratch_apt DIR SOURCES [EXTRA]: a private apt root in DIR whose apt.conf
# (exported as APT_CONFIG) reads none of the host's apt.conf.d (which here
# turns apt's binary cache off and keeps lists lz4-compressed), keeps its
# package cache on (pkgcache.bin, as on a stock Debian system) and its lists
# uncompressed, uses an empty dpkg status, one architecture, no
# translations. SOURCES is the sources.list text; EXTRA, more apt.conf lines.
scratch_apt() {
  local A=$1 sources=$2 extra=${3:-}
  mkdir -p "$A"/etc/{apt.conf.d,preferences.d,sources.list.d} "$A"/state/lists/partial "$A"/cache/archives/partial "$A"/log
  : > "$A/state/status"
  printf '%s\n' "$sources" > "$A/etc/sources.list"
  cat > "$A/apt.conf" <<CONF
Dir::Etc "$A/etc/";
Dir::Etc::sourcelist "sources.list";
Dir::Etc::sourceparts "sources.list.d";
Dir::Etc::parts "apt.conf.d";
Dir::Etc::main "/dev/null";
Dir::Etc::preferences "preferences";
Dir::Etc::preferencesparts "preferences.d";
Dir::State "$A/state/";
Dir::State::lists "lists/";
Dir::State::status "$A/state/status";
Dir::State::extended_states "$A/state/extended_states";
Dir::Cache "$A/cache/";
Dir::Cache::archives "archives/";
Dir::Cache::pkgcache "pkgcache.bin";
Dir::Cache::srcpkgcache "srcpkgcache.bin";
Dir::Log "$A/log/";
Debug::NoLocking "1";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
Acquire::Languages "none";
Acquire::GzipIndexes "false";
$extra
CONF
  export APT_CONFIG=$A/apt.conf
}

# closure118 DIR: download into DIR (once) the install anchors' 118-package
# set: python3 without recommends plus every Priority: required package,
# resolved by apt against an empty status from the host's configured mirror
# (needs `apt-get update` and the Debian mirror; never committed).
closure118() {
  local dir=$1 st
  st=$(mktemp)
  local opt=(-o Dir::State::status="$st" -o Debug::NoLocking=1
             -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Architecture=amd64)
  mkdir -p "$dir"
  if [ -z "$(ls "$dir")" ]; then
    local req
    req=$(apt-cache "${opt[@]}" dumpavail | awk '/^Package:/{p=$2} /^Priority: required$/{print p}' | sort -u)
    # shellcheck disable=SC2086
    apt-get -s "${opt[@]}" install --no-install-recommends python3 $req \
      | awk '/^Inst/{v=$3; gsub(/[()]/,"",v); print $2"="v}' > "$dir.txt"
    # shellcheck disable=SC2046
    (cd "$dir" && apt-get download -qq $(cat "$dir.txt"))
  fi
  rm -f "$st"
}
