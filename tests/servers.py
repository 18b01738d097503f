"""Real git servers on 127.0.0.1 for tests and benchmarks: plain context managers, no pytest.

Each one starts a real server on a free port in its own temporary directory, yields a ``Hub``
and, on exit, kills the server's whole process group and removes the directory::

    from servers import apache_hub
    with apache_hub() as hub:
        env = {**os.environ, **hub.env}          # what a client needs (credentials, ssh command)
        subprocess.run(["git", "clone", hub.url, "x"], env=env)
        hub.path                                  # the bare repository on disk, to inspect

| context manager | server | ``hub.env`` (the default user) | other users (``hub.env_for``) |
|---|---|---|---|
| ``daemon_hub()`` | ``git daemon --enable=receive-pack`` | ``{}`` (no authentication) | none |
| ``apache_hub()`` | Apache running ``git http-backend`` (smart HTTP); reads are open, a push needs basic auth from an htpasswd file | a credential helper for ``agent`` | ``None``: anonymous |
| ``nginx_hub()`` | the same behind nginx, ``git http-backend`` run by fcgiwrap | as ``apache_hub`` | as ``apache_hub`` |
| ``ssh_hub()`` | OpenSSH's sshd, plain git over ssh (``ssh://<this user>@127.0.0.1:P/abs/path``) | ``GIT_SSH_COMMAND`` with the key | none |
| ``gitolite_hub()`` | sshd with gitolite3 deciding per user and per ref | ``lead``: may push all of ``refs/jit/*`` | ``agent``: may push branches and ``refs/jit/issues/*`` (claims, edits) but not ``refs/jit/gates/*``; ``reader``: read only |

``HUBS`` maps a transport name (``"daemon"``, ``"http"``, ``"nginx"``, ``"ssh"``, ``"gitolite"``) to its
context manager; ``missing(name)`` says which binary a transport lacks (``None`` when it can run).
``hub.create(name)`` serves another bare repository the same way (gitolite: declared with the
hub's rules) and returns its URL; ``hub.machine_env(user, tag)`` is a client on a machine of its
own (over ssh: its own shared connection). bench/fleet.py runs its fleet over these servers.

sshd is configured for a fleet: ``MaxStartups 100`` (the default, ``10:30:100``, starts dropping
new connections while more than 10 are in their handshake) and ``MaxSessions 100`` (sessions over
one shared connection; the default is 10): headroom, as the fleet benchmark's 8 clones ran
without a dropped connection under the defaults too (docs/performance.md).

Passwords never reach a stored git config: ``hub.env`` sets a credential helper through
``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n`` (git's environment config), so only
processes started with that environment can push. ``ssh_hub``/``gitolite_hub`` share one ssh
connection per key (``ControlMaster``; ``multiplex=False`` opens one per git command, as plain ssh
does). Run as root (as CI does), Apache runs its CGI as ``www-data`` (so the served directory is
world-writable inside a private 0755 temporary directory) and sshd needs ``/run/sshd``; as another
user, every server runs as that user. Debian packages:
apache2 (+ apache2-utils' htpasswd), nginx + fcgiwrap, openssh-server, gitolite3.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["HUBS", "Hub", "apache_hub", "daemon_hub", "free_port", "gitolite_hub", "missing", "nginx_hub", "ssh_hub"]

APACHE = "/usr/sbin/apache2"
APACHE_MODULES = Path("/usr/lib/apache2/modules")
SSHD = "/usr/sbin/sshd"
NGINX = "/usr/sbin/nginx"
FCGIWRAP = "/usr/sbin/fcgiwrap"
GITOLITE = "/usr/bin/gitolite"
HTTP_USER, HTTP_PASSWORD = "agent", "s3cret-agent"


@dataclass
class Hub:
    """A served bare repository: ``url`` for ``git remote add``, ``env`` for the client processes."""

    kind: str
    url: str
    path: Path
    env: dict[str, str]
    users: dict[str, dict[str, str]] = field(default_factory=dict)
    log: Path | None = None
    #: serve one more bare repository beside ``path`` (same server, same rules): its URL
    new_repo: Callable[[str], str] | None = None
    #: the environment of ``user`` on a separate machine named ``tag`` (ssh: a shared connection of its own)
    on_machine: Callable[[str | None, str], dict[str, str]] | None = None

    def env_for(self, user: str | None) -> dict[str, str]:
        """The client environment of another user (``None``: anonymous, where the server allows it)."""
        if user is None:
            return {}
        return self.users[user]

    def create(self, name: str) -> str:
        """Another bare repository served like ``path`` (e.g. a fresh hub per benchmark round): its URL."""
        if self.new_repo is None:
            raise RuntimeError(f"{self.kind} hub cannot serve another repository")
        return self.new_repo(name)

    def machine_env(self, user: str | None, tag: str) -> dict[str, str]:
        """``env_for(user)`` as seen from another machine: over ssh, with a connection of its own
        (its own ControlMaster socket) instead of sharing this process's."""
        return self.on_machine(user, tag) if self.on_machine else self.env_for(user)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def missing(kind: str) -> str | None:
    """Why transport ``kind`` cannot run here (a missing binary), or None."""
    need = {"daemon": [], "http": [APACHE, "htpasswd"], "nginx": [NGINX, FCGIWRAP, "htpasswd"], "ssh": [SSHD, "ssh", "ssh-keygen"],
            "gitolite": [SSHD, "ssh", "ssh-keygen", GITOLITE]}[kind]
    if not shutil.which("git"):
        return "git is not installed"
    for b in need:
        if not (os.access(b, os.X_OK) if b.startswith("/") else shutil.which(b)):
            return f"{b} is not installed (Debian: {_PACKAGE.get(b, b)})"
    if kind == "http":
        for m in ("mod_cgid.so", "mod_alias.so", "mod_env.so", "mod_auth_basic.so", "mod_authn_file.so"):
            if not (APACHE_MODULES / m).exists():
                return f"Apache's {m} is missing"
    return None


_PACKAGE = {APACHE: "apache2", NGINX: "nginx", FCGIWRAP: "fcgiwrap", "htpasswd": "apache2-utils", SSHD: "openssh-server", "ssh": "openssh-client",
            "ssh-keygen": "openssh-client", GITOLITE: "gitolite3"}


# ----------------------------------------------------------------------------- plumbing

def _git(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    p = subprocess.run(["git", *args], cwd=cwd, env={**base, **(env or {})}, capture_output=True, text=True,
                       check=False)
    if p.returncode:
        raise RuntimeError(f"git {' '.join(args)} failed: {p.stderr.strip()}")
    return p.stdout


@contextlib.contextmanager
def _workdir(kind: str) -> Iterator[Path]:
    """A private directory in /tmp (short paths: ssh control sockets must stay under 108 bytes)."""
    d = Path(tempfile.mkdtemp(prefix=f"gitjit-{kind}-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def _process(cmd: list[str], log: Path, *, ready: Callable[[], bool], what: str,
             env: dict[str, str] | None = None, timeout: float = 20.0) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``cmd`` in a session of its own, wait for ``ready()``, and kill the group on exit."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env)
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not come up (exit {proc.poll()}):\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.05)
        yield proc
    finally:
        _kill_group(proc)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)  # the server and every child it forked per connection
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
            break
        except subprocess.TimeoutExpired:
            continue


def _ls_remote_ok(url: str, env: dict[str, str]) -> Callable[[], bool]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}

    def ok() -> bool:
        p = subprocess.run(["git", "ls-remote", url], env={**base, "GIT_TERMINAL_PROMPT": "0", **env},
                           capture_output=True, timeout=20, check=False)
        return p.returncode == 0
    return ok


def _bare(path: Path, *, shared: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    _git("init", "-q", "--bare", "-b", "main", *(["--shared=0777"] if shared else []), str(path))
    return path


def git_config_env(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """git configuration through the environment (``GIT_CONFIG_COUNT``), never written to a file."""
    env = {"GIT_CONFIG_COUNT": str(len(pairs))}
    for i, (k, v) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{i}"] = k
        env[f"GIT_CONFIG_VALUE_{i}"] = v
    return env


# ----------------------------------------------------------------------------- git daemon

@contextlib.contextmanager
def daemon_hub(name: str = "hub.git") -> Iterator[Hub]:
    """A bare hub served read-write, without authentication, by ``git daemon``."""
    with _workdir("daemon") as d:
        base = d / "served"
        hub = _bare(base / name)
        port = free_port()
        url = f"git://127.0.0.1:{port}/{name}"
        cmd = ["git", "daemon", "--reuseaddr", "--listen=127.0.0.1", f"--port={port}", f"--base-path={base}",
               "--export-all", "--enable=receive-pack", "--verbose", str(base)]
        def new_repo(n: str) -> str:
            _bare(base / n)
            return f"git://127.0.0.1:{port}/{n}"
        with _process(cmd, d / "daemon.log", ready=_ls_remote_ok(url, {}), what="git daemon"):
            yield Hub("daemon", url, hub, {}, log=d / "daemon.log", new_repo=new_repo)


# ----------------------------------------------------------------------------- Apache

APACHE_CONF = """\
ServerRoot "{root}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{root}/apache2.pid"
ErrorLog "{root}/error.log"
LogLevel warn
LogFormat "%h %u \\"%r\\" %>s" gitjit
CustomLog "{root}/access.log" gitjit
DefaultRuntimeDir "{root}/run"
Mutex file:{root}/run
ScriptSock "{root}/run/cgid.sock"
User {user}
Group {group}
LoadModule mpm_event_module {mods}/mod_mpm_event.so
LoadModule authz_core_module {mods}/mod_authz_core.so
LoadModule authz_user_module {mods}/mod_authz_user.so
LoadModule authn_core_module {mods}/mod_authn_core.so
LoadModule authn_file_module {mods}/mod_authn_file.so
LoadModule auth_basic_module {mods}/mod_auth_basic.so
LoadModule alias_module {mods}/mod_alias.so
LoadModule env_module {mods}/mod_env.so
LoadModule cgid_module {mods}/mod_cgid.so
StartServers 1
ServerLimit 4
ThreadsPerChild 16
MaxRequestWorkers 64
Timeout 120

SetEnv GIT_PROJECT_ROOT "{served}"
SetEnv GIT_HTTP_EXPORT_ALL 1
SetEnv GIT_CONFIG_GLOBAL "{root}/backend.gitconfig"
SetEnv GIT_CONFIG_NOSYSTEM 1
ScriptAlias /git/ "{backend}/"

<Directory />
    Require all denied
</Directory>
<Location /git/>
    # the way GitHub and GitLab serve a repository: anyone may read, a push needs a login
    AuthType Basic
    AuthName "gitjit hub"
    AuthBasicProvider file
    AuthUserFile "{root}/htpasswd"
    Require all granted
    <If "%{{QUERY_STRING}} =~ /service=git-receive-pack/ || %{{REQUEST_URI}} =~ m#/git-receive-pack$#">
        Require valid-user
    </If>
</Location>
"""


@contextlib.contextmanager
def apache_hub(name: str = "hub.git") -> Iterator[Hub]:
    """A bare hub behind Apache's smart HTTP (``git http-backend`` as CGI): reads open, pushes
    need basic auth (user ``agent``). ``hub.env`` holds a credential helper for ``agent``;
    ``hub.env_for(None)`` is an anonymous client."""
    with _workdir("apache") as d:
        d.chmod(0o755)  # the CGI runs as www-data when Apache was started by root
        root = os.geteuid() == 0
        served = d / "served"
        hub = _bare(served / name, shared=root)
        if root:
            served.chmod(0o777)
        (d / "run").mkdir()
        subprocess.run(["htpasswd", "-b", "-c", "-B", str(d / "htpasswd"), HTTP_USER, HTTP_PASSWORD],
                       check=True, capture_output=True)
        # the backend runs as another user than the repository's owner: tell its git to trust it
        (d / "backend.gitconfig").write_text("[safe]\n\tdirectory = *\n")
        port = free_port()
        # Apache started by root serves as www-data (it refuses to run a CGI as root)
        uid, gid = _cgi_user() if root else (os.geteuid(), os.getegid())
        conf = APACHE_CONF.format(root=d, port=port, mods=APACHE_MODULES, served=served,
                                  backend=Path(_git("--exec-path").strip()) / "git-http-backend",
                                  user=f"#{uid}", group=f"#{gid}")
        (d / "apache2.conf").write_text(conf)
        for p in (d / "run", d / "htpasswd"):
            os.chown(p, uid, gid)
        url = f"http://127.0.0.1:{port}/git/{name}"
        env = _http_credentials()
        cmd = [APACHE, "-f", str(d / "apache2.conf"), "-DFOREGROUND"]
        aenv = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C"}
        def new_repo(n: str) -> str:
            _bare(served / n, shared=root)
            return f"http://127.0.0.1:{port}/git/{n}"
        with _process(cmd, d / "error.log", ready=_ls_remote_ok(url, {}), what="apache2", env=aenv):
            yield Hub("http", url, hub, env, users={HTTP_USER: env}, log=d / "error.log", new_repo=new_repo)


def _cgi_user() -> tuple[int, int]:
    import pwd

    for name in ("www-data", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        return pw.pw_uid, pw.pw_gid
    raise RuntimeError("no www-data or nobody account for Apache's CGI to run as")


# ----------------------------------------------------------------------------- nginx + fcgiwrap

NGINX_CONF = """\
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
worker_processes 2;
events {{ worker_connections 256; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/tmp/body;
    fastcgi_temp_path {root}/tmp/fastcgi;
    proxy_temp_path {root}/tmp/proxy;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        # a named capture: the `if` regexes below would reset $1
        location ~ ^/git(?<path_info>/.*)$ {{
            # anyone may read, a push (its ref advertisement and the push itself) needs a login
            set $realm off;
            if ($arg_service = git-receive-pack) {{ set $realm "gitjit hub"; }}
            if ($uri ~ /git-receive-pack$) {{ set $realm "gitjit hub"; }}
            auth_basic $realm;
            auth_basic_user_file {root}/htpasswd;
            client_max_body_size 0;
            fastcgi_pass 127.0.0.1:{fcgi};
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME {backend};
            fastcgi_param GIT_PROJECT_ROOT {served};
            fastcgi_param GIT_HTTP_EXPORT_ALL 1;
            fastcgi_param PATH_INFO $path_info;
            fastcgi_param REMOTE_USER $remote_user;
        }}
    }}
}}
"""


@contextlib.contextmanager
def nginx_hub(name: str = "hub.git") -> Iterator[Hub]:
    """Like ``apache_hub``, served by nginx, with ``git http-backend`` run by fcgiwrap (as this user)."""
    with _workdir("nginx") as d:
        d.chmod(0o755)
        served = d / "served"
        hub = _bare(served / name)
        (d / "tmp").mkdir()
        subprocess.run(["htpasswd", "-b", "-c", "-B", str(d / "htpasswd"), HTTP_USER, HTTP_PASSWORD],
                       check=True, capture_output=True)
        (d / "htpasswd").chmod(0o644)  # nginx's workers (nobody) read it
        port, fcgi = free_port(), free_port()
        (d / "nginx.conf").write_text(NGINX_CONF.format(
            root=d, port=port, fcgi=fcgi, served=served,
            backend=Path(_git("--exec-path").strip()) / "git-http-backend"))
        url = f"http://127.0.0.1:{port}/git/{name}"
        env = _http_credentials()
        benv = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C", "HOME": str(d),
                "GIT_CONFIG_NOSYSTEM": "1"}

        def fcgi_up() -> bool:
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", fcgi)) == 0
        with _process([FCGIWRAP, "-c", "4", "-s", f"tcp:127.0.0.1:{fcgi}"], d / "fcgiwrap.log", ready=fcgi_up,
                      what="fcgiwrap", env=benv), \
             _process([NGINX, "-p", str(d), "-e", str(d / "error.log"), "-c", str(d / "nginx.conf")],
                      d / "nginx.log", ready=_ls_remote_ok(url, {}), what="nginx", env=benv):
            yield Hub("nginx", url, hub, env, users={HTTP_USER: env}, log=d / "error.log",
                      new_repo=lambda n: (_bare(served / n), f"http://127.0.0.1:{port}/git/{n}")[1])


def _http_credentials() -> dict[str, str]:
    """A credential helper for ``HTTP_USER`` in the environment: nothing written to any git config."""
    helper = f'!f() {{ test "$1" = get || exit 0; echo username={HTTP_USER}; echo password={HTTP_PASSWORD}; }}; f'
    return git_config_env([("credential.helper", helper)])


# ----------------------------------------------------------------------------- sshd (+ gitolite)

SSHD_CONF = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {root}/host_ed25519
AuthorizedKeysFile {keys}
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
StrictModes no
UsePAM no
PidFile {root}/sshd.pid
PermitRootLogin prohibit-password
MaxStartups 100
MaxSessions 100
LogLevel ERROR
{extra}
"""


def _keygen(path: Path, comment: str) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, capture_output=True)
    return path


def _ssh_command(port: int, key: Path, control: Path | None) -> str:
    opts = ["ssh", "-p", str(port), "-i", str(key), "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]
    if control is not None:
        # one TCP+SSH handshake per client key, reused by every git operation (claims make many)
        opts += ["-o", "ControlMaster=auto", "-o", f"ControlPath={control}/%C", "-o", "ControlPersist=30"]
    return shlex.join(opts)


@contextlib.contextmanager
def _sshd(d: Path, keys: Path, extra: str = "") -> Iterator[int]:
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
    _keygen(d / "host_ed25519", "host")
    port = free_port()
    (d / "sshd_config").write_text(SSHD_CONF.format(port=port, root=d, keys=keys, extra=extra))
    cmd = [SSHD, "-D", "-e", "-f", str(d / "sshd_config")]

    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0
    with _process(cmd, d / "sshd.log", ready=listening, what="sshd"):
        yield port


def _close_masters(control: Path, envs: list[dict[str, str]]) -> None:
    for env in envs:
        cmd = shlex.split(env["GIT_SSH_COMMAND"]) + ["-O", "exit", "127.0.0.1"]
        subprocess.run(cmd, capture_output=True, timeout=10, check=False)


@contextlib.contextmanager
def ssh_hub(name: str = "hub.git", *, multiplex: bool = True) -> Iterator[Hub]:
    """A bare hub reached over ssh (plain git-upload-pack/receive-pack, the login is root)."""
    with _workdir("ssh") as d:
        hub = _bare(d / "served" / name)
        key = _keygen(d / "id_ed25519", "client")
        (d / "authorized_keys").write_text((d / "id_ed25519.pub").read_text())
        control = d / "cm" if multiplex else None
        if control:
            control.mkdir(mode=0o700)
        user = _whoami()
        (d / "home").mkdir()
        # the login's shell starts in an empty HOME: the account's own dotfiles (a slow ~/.bashrc,
        # which bash reads for every ssh command) are not part of the server under test
        with _sshd(d, d / "authorized_keys", f"SetEnv HOME={d / 'home'}\n") as port:
            env = {"GIT_SSH_COMMAND": _ssh_command(port, key, control), "GIT_SSH_VARIANT": "ssh"}
            url = f"ssh://{user}@127.0.0.1:{port}{hub}"
            opened = [env]

            def on_machine(who: str | None, tag: str) -> dict[str, str]:
                m = {"GIT_SSH_COMMAND": _ssh_command(port, key, control and _mkdir(control / tag)),
                     "GIT_SSH_VARIANT": "ssh"}
                opened.append(m)
                return m
            try:
                if not _wait(_ls_remote_ok(url, env)):
                    raise RuntimeError(f"ssh to sshd failed:\n{(d / 'sshd.log').read_text(errors='replace')}")
                yield Hub("ssh", url, hub, env, log=d / "sshd.log", on_machine=on_machine,
                          new_repo=lambda n: f"ssh://{user}@127.0.0.1:{port}{_bare(d / 'served' / n)}")
            finally:
                if control:
                    _close_masters(control, opened)


def _whoami() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def _mkdir(p: Path) -> Path:
    p.mkdir(mode=0o700, exist_ok=True)
    return p


def _wait(ok: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ok():
            return True
        time.sleep(0.1)
    return False


GITOLITE_CONF = """\
repo gitolite-admin
    RW+                     =   admin

# the hub of a swarm: the lead may do anything; agents may push branches, claim and edit issues
# (a claim is a fast-forward push of refs/jit/issues/<id>) but not define gates; a reader may only fetch
repo {repo}
    RW+                     =   lead
    RW  refs/heads/         =   agent
    RW  refs/jit/issues/    =   agent
    R                       =   reader
"""


@contextlib.contextmanager
def gitolite_hub(repo: str = "hub", *, multiplex: bool = True) -> Iterator[Hub]:
    """A hub served by gitolite3 behind sshd. Users: ``lead`` (``hub.env``) may push all of
    ``refs/jit/*``; ``agent`` may push ``refs/jit/issues/*`` only; ``reader`` may only read.

    gitolite keeps everything under ``$HOME`` of the account the ssh login lands in: here that
    is root with ``HOME`` replaced by a temporary directory (sshd's ``SetEnv``), gitolite's own
    ``authorized_keys`` (``command="gitolite-shell USER"`` per key) being sshd's
    ``AuthorizedKeysFile``."""
    with _workdir("gitolite") as d:
        home = d / "home"
        home.mkdir()
        genv = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C",
                "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "gitolite", "GIT_AUTHOR_EMAIL": "gitolite@localhost",
                "GIT_COMMITTER_NAME": "gitolite", "GIT_COMMITTER_EMAIL": "gitolite@localhost"}
        keys: dict[str, Path] = {}
        for u in ("admin", "lead", "agent", "reader"):
            keys[u] = _keygen(d / f"{u}_ed25519", u)

        def gl(*args: str) -> None:
            p = subprocess.run([GITOLITE, *args], env=genv, capture_output=True, text=True, check=False)
            if p.returncode:
                raise RuntimeError(f"gitolite {' '.join(args)} failed: {p.stdout}{p.stderr}")

        shutil.copy(d / "admin_ed25519.pub", d / "admin.pub")
        gl("setup", "-pk", str(d / "admin.pub"))
        # administer on the server, without a clone of gitolite-admin: conf + keydir, then setup
        admin = home / ".gitolite"
        repos = [repo]
        (admin / "conf" / "gitolite.conf").write_text(GITOLITE_CONF.format(repo=repo))
        for u in ("lead", "agent", "reader"):
            shutil.copy(d / f"{u}_ed25519.pub", admin / "keydir" / f"{u}.pub")
        gl("setup")
        hub = home / "repositories" / f"{repo}.git"
        control = d / "cm" if multiplex else None
        if control:
            control.mkdir(mode=0o700)
        user = _whoami()
        extra = f"SetEnv HOME={home}\n"
        with _sshd(d, home / ".ssh" / "authorized_keys", extra) as port:
            # a control socket per key: a master connection belongs to the user it logged in as
            envs = {u: {"GIT_SSH_COMMAND": _ssh_command(port, keys[u], control and _mkdir(control / u)),
                        "GIT_SSH_VARIANT": "ssh"} for u in ("lead", "agent", "reader")}
            url = f"ssh://{user}@127.0.0.1:{port}/{repo}"
            opened = list(envs.values())

            def on_machine(who: str | None, tag: str) -> dict[str, str]:
                u = who or "lead"
                m = {"GIT_SSH_COMMAND": _ssh_command(port, keys[u], control and _mkdir(_mkdir(control / tag) / u)),
                     "GIT_SSH_VARIANT": "ssh"}
                opened.append(m)
                return m

            def new_repo(n: str) -> str:
                # declared in the configuration with the hub's rules; `gitolite setup` creates it
                # and installs the update hook that enforces them per ref
                name = n.removesuffix(".git")
                repos.append(name)
                (admin / "conf" / "gitolite.conf").write_text(GITOLITE_CONF.format(repo=" ".join(repos)))
                gl("setup")
                return f"ssh://{user}@127.0.0.1:{port}/{name}"
            try:
                if not _wait(_ls_remote_ok(url, envs["reader"])):
                    raise RuntimeError(f"gitolite over ssh failed:\n{(d / 'sshd.log').read_text(errors='replace')}")
                yield Hub("gitolite", url, hub, envs["lead"], users=envs, log=d / "sshd.log",
                          on_machine=on_machine, new_repo=new_repo)
            finally:
                if control:
                    _close_masters(control, opened)


HUBS: dict[str, Callable[[], contextlib.AbstractContextManager[Hub]]] = {
    "daemon": daemon_hub, "http": apache_hub, "nginx": nginx_hub, "ssh": ssh_hub, "gitolite": gitolite_hub}
