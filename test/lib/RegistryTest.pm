# Local container registries for the TAP tests: the distribution registry
# (Debian package docker-registry) on 127.0.0.1, plain or TLS, open or with
# htpasswd or token auth, a client that pushes tiny images built here without
# internet, and a hostile fake registry (hostile_registry.py).
#
#   my $reg = RegistryTest->start(tls => 1, auth => 'token', users => {u => 'p'});
#   my $img = $reg->push_image('app', 'latest');
#   is($reg->manifest_digest('app', 'latest'), $img->{digest});
#   $reg->stop;    # also done by DESTROY and an END block
#
# RegistryTest->available(%start_opts) -> (1) or (0, reason): for skip_all.
# RegistryTest->start(%opts): tls, auth (none|htpasswd|token), users
#   ({name => password} or, for token, {name => {password, actions,
#   repositories (fnmatch patterns)}}),
#   push_user, anonymous_pull (token), service, issuer, token_expires_in,
#   timeout (10 s to answer /v2/), max_lifetime (900 s), log_level (warn),
#   accesslog (1), config (extra registry config, merged one level), port,
#   notify (a URL: the registry's notifications endpoint, as a registry
#   sends its webhooks).
# Accessors: host, port, url, ca_file, token_url, log_file,
#   issuer_log_file, dir, service, issuer, users, credentials,
#   last_response.  set_credentials($user, $password), stop.
# Client: request($method, $path_or_url, %o), push_blob, put_manifest,
#   push_image, push_index, manifest_digest, get_manifest, tags, catalog,
#   push_many_tags, delete_tag, delete_manifest, fetch_token, token_stats,
#   token_fail($on).  Helpers: header($res, $name), parse_challenge($v),
#   make_tar, gzip_bytes, constants MT_* and $ACCEPT.
# Cosign signatures (tests of gates and of the signature lookup), made with
#   openssl as cosign makes them:
#     my $k = RegistryTest::make_signing_key($dir, type => 'p256');  # or ed25519
#     my $sig = $reg->push_signature('app', $img->{digest}, key => $k);
#     $reg->push_signature('app', $img->{digest}, key => $k2, append => 1);
#   push_signature writes cosign's tag "sha256-HEX.sig" (an OCI manifest, a
#   payload layer a signature; options: key, payload_digest, reference,
#   optional, payload, signature, signatures => [...], append, tag).
#   Helpers: make_signing_key($dir, type, name) -> {type, key, public,
#   public_pem}; simple_signing_payload($reference, $digest, optional);
#   sign_payload($key, $payload) -> base64; verify_payload($public, $payload,
#   $base64) -> 1/0.  The hostile registry's "signed" scenario serves them
#   through the referrers API instead (hostile_registry.py).
# RegistryTest->start_hostile(%opts) -> RegistryTest::Hostile: host, port,
#   url, log_file, request (no auth), request_log, reset_log, stop.
# RegistryTest->start_proxy(%opts): an HTTP proxy that logs what it is asked;
#   tag_page => N: it pages the tag lists it forwards, N tags a page.
# RegistryTest->start_event_receiver(psql, pghost, pgport, user, dbname): a
#   webhook receiver (event_receiver.py) that passes each body to
#   imagestream.registry_event() as user, through psql; url, request_log
#   ([{actions, tags, count, error}] of the bodies so far), reset_log, stop.
#
# Responses are hashes {status, reason, headers (lower-case names, repeated
# ones as array refs), content}; 599 means the transport failed.  Helpers
# that push die (croak) on an unexpected status; request() never does.
#
# Every process started here runs in its own process group under a small
# shell watchdog that stops it when the test process is gone or after
# max_lifetime seconds, so nothing outlives a test even when it is killed.
package RegistryTest;

use strict;
use warnings;

use Carp;
use Cwd ();
use Digest::SHA qw(sha256_hex);
use File::Basename qw(basename dirname);
use File::Path qw(make_path);
use File::Spec;
use File::Temp ();
use HTTP::Tiny;
use IO::Compress::Gzip qw($GzipError);
use IO::Socket::INET;
use IPC::Run ();
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use POSIX qw(WNOHANG);
use Scalar::Util qw(weaken);
use Time::HiRes qw(time sleep);

use constant {
	MT_DOCKER => 'application/vnd.docker.distribution.manifest.v2+json',
	MT_DOCKER_LIST => 'application/vnd.docker.distribution.manifest.list.v2+json',
	MT_OCI => 'application/vnd.oci.image.manifest.v1+json',
	MT_OCI_INDEX => 'application/vnd.oci.image.index.v1+json',
	MT_DOCKER_CONFIG => 'application/vnd.docker.container.image.v1+json',
	MT_OCI_CONFIG => 'application/vnd.oci.image.config.v1+json',
	MT_DOCKER_LAYER => 'application/vnd.docker.image.rootfs.diff.tar.gzip',
	MT_OCI_LAYER => 'application/vnd.oci.image.layer.v1.tar+gzip',
};

our @MANIFEST_TYPES = (MT_DOCKER, MT_DOCKER_LIST, MT_OCI, MT_OCI_INDEX);
our $ACCEPT = join(', ', @MANIFEST_TYPES);

our $LIBDIR = Cwd::abs_path(dirname(__FILE__));
our $PYTHON = $ENV{REGISTRYTEST_PYTHON} // '/usr/bin/python3';
our $REGISTRY_BIN = $ENV{REGISTRYTEST_REGISTRY} // '/usr/bin/docker-registry';

# Set REGISTRYTEST_HTTP=curl to force the curl transport everywhere.
our $FORCE_CURL = ($ENV{REGISTRYTEST_HTTP} // '') eq 'curl';

my $JSON = JSON::PP->new->utf8->canonical;
my $JSON_PRETTY = JSON::PP->new->utf8->canonical->pretty;

my %LIVE;        # "$obj" => weak ref, for the END block
my $COUNTER = 0;

END
{
	local $?;
	for my $o (values %LIVE)
	{
		$o->stop if defined $o;
	}
}

sub DESTROY
{
	local ($., $@, $!, $^E, $?);
	my ($self) = @_;
	$self->stop;
}

# ---------------------------------------------------------------------------
# Small utilities

# Whether the programs a kind of registry needs are here: (1) or (0, why).
sub available
{
	my ($class, %opts) = @_;
	return (0, "$REGISTRY_BIN not found (apt-get install docker-registry)")
	  unless -x $REGISTRY_BIN;
	if ($opts{tls})
	{
		return (0, 'openssl not found') unless _which('openssl');
		return (0, 'curl not found (needed without IO::Socket::SSL)')
		  unless HTTP::Tiny->can_ssl || _which('curl');
	}
	if (($opts{auth} // '') eq 'htpasswd')
	{
		return (0, 'htpasswd not found (apt-get install apache2-utils)')
		  unless _which('htpasswd');
	}
	if (($opts{auth} // '') eq 'token' || $opts{hostile})
	{
		return (0, "$PYTHON not found") unless -x $PYTHON;
		my $mods = $opts{hostile} ? 'cryptography' : 'jwt, cryptography';
		return (0, "python3 modules $mods missing (apt-get install python3-jwt python3-cryptography)")
		  unless system($PYTHON, '-c', "import $mods") == 0;
	}
	return (1);
}

sub _which
{
	my ($prog) = @_;
	for my $d (split /:/, ($ENV{PATH} // '/usr/bin:/bin'))
	{
		return "$d/$prog" if -x "$d/$prog";
	}
	return;
}

sub _uri_escape
{
	my ($s) = @_;
	$s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord($1))/ge;
	return $s;
}

sub _slurp
{
	my ($path) = @_;
	open(my $fh, '<:raw', $path) or return '';
	local $/;
	my $c = <$fh>;
	close $fh;
	return $c // '';
}

sub _spew
{
	my ($path, $data, $mode) = @_;
	open(my $fh, '>:raw', $path) or croak "cannot write $path: $!";
	print $fh $data;
	close $fh or croak "cannot write $path: $!";
	chmod $mode, $path if defined $mode;
	return;
}

sub _run
{
	my (@cmd) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err,
		IPC::Run::timeout(60))
	  or croak "command failed: @cmd: $err";
	return $out;
}

# A fresh directory: PostgreSQL::Test::Utils::tempdir when that module is
# loaded (kept when the test fails), else File::Temp.
sub _tempdir
{
	my ($prefix) = @_;
	my $dir;
	if (PostgreSQL::Test::Utils->can('tempdir'))
	{
		$dir = PostgreSQL::Test::Utils::tempdir($prefix);
	}
	else
	{
		$dir = File::Temp::tempdir("${prefix}_XXXX", TMPDIR => 1, CLEANUP => 1);
	}
	return File::Spec->rel2abs($dir);
}

sub _log_file
{
	my ($kind, $dir) = @_;
	$COUNTER++;
	no warnings "once";
	my $logdir = $PostgreSQL::Test::Utils::log_path;
	if (defined $logdir && -d $logdir)
	{
		my $test = basename($0);
		$test =~ s/\.[^.]+$//;
		return File::Spec->rel2abs("$logdir/${test}_${kind}_$COUNTER.log");
	}
	return "$dir/$kind.log";
}

# A port on 127.0.0.1 that can be bound now (also used by the demo and the
# bench for their clusters), below the kernel's ephemeral
# range and below the range PostgreSQL::Test::Cluster uses.
sub free_port
{
	for (1 .. 50)
	{
		my $port = 20000 + int(rand(12000));
		my $s = IO::Socket::INET->new(
			LocalAddr => '127.0.0.1',
			LocalPort => $port,
			Proto => 'tcp',
			Listen => 1,
			ReuseAddr => 1);
		next unless $s;
		close $s;
		return $port;
	}
	croak 'no free port found on 127.0.0.1';
}

# The watchdog: runs the command in the background and stops it when the
# parent test process is gone or after LIFE seconds; forwards TERM.
my $WATCHDOG = <<'SH';
parent=$1; life=$2; shift 2
"$@" &
child=$!
trap 'kill -TERM $child 2>/dev/null; wait $child; exit 143' TERM INT HUP
i=0
while [ $i -lt $((life * 2)) ] && kill -0 $parent 2>/dev/null && kill -0 $child 2>/dev/null; do
	sleep 0.5 &
	wait $!
	i=$((i + 1))
done
if kill -0 $child 2>/dev/null; then
	echo "registrytest watchdog: stopping $1 (parent gone or lifetime over)" >&2
	kill -TERM $child
fi
wait $child
SH

# Starts a command in a new process group with stdout and stderr appended
# to $log; returns the pid (= process group id).
sub _spawn
{
	my ($cmd, $log, $life) = @_;
	my @argv = ('/bin/sh', '-c', $WATCHDOG, 'registrytest-watchdog', $$,
		int($life), @$cmd);
	my $pid = fork();
	croak "fork failed: $!" unless defined $pid;
	if ($pid == 0)
	{
		setpgrp(0, 0);
		delete $ENV{$_} for grep { /^REGISTRY_/ } keys %ENV;
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>>', $log) or POSIX::_exit(126);
		open(STDERR, '>&', \*STDOUT) or POSIX::_exit(126);
		{ exec { $argv[0] } @argv; }
		POSIX::_exit(127);
	}
	return $pid;
}

sub _alive
{
	my ($pid) = @_;
	return 0 unless $pid;
	my $r = waitpid($pid, WNOHANG);
	return $r == 0;
}

# Stops a process group started by _spawn: TERM, up to 5 s, then KILL.
sub _stop_group
{
	my ($pid) = @_;
	return unless $pid;
	local $?;
	kill '-TERM', $pid;
	my $deadline = time + 5;
	my $reaped = 0;
	while (time < $deadline)
	{
		my $r = waitpid($pid, WNOHANG);
		if ($r == $pid || $r == -1) { $reaped = 1; last; }
		sleep 0.05;
	}
	# anything left in the group (or the wrapper itself) gets KILL
	kill '-KILL', $pid if kill(0, -$pid) || !$reaped;
	waitpid($pid, 0) unless $reaped;
	return;
}

sub _wait_port_file
{
	my ($file, $pid, $log, $what) = @_;
	my $deadline = time + 20;
	while (time < $deadline)
	{
		my $c = _slurp($file);
		return $1 if $c =~ /^(\d+)\n/;
		last unless _alive($pid);
		sleep 0.05;
	}
	my $tail = _slurp($log);
	$tail = substr($tail, -2000) if length $tail > 2000;
	croak "$what did not start; log $log:\n$tail";
}

# ---------------------------------------------------------------------------
# Starting and stopping

sub start
{
	my ($class, %opts) = @_;
	my $auth = $opts{auth} // 'none';
	croak "auth must be none, htpasswd or token" unless $auth =~ /^(none|htpasswd|token)$/;
	my ($ok, $why) = $class->available(%opts);
	croak $why unless $ok;

	my $self = bless {
		kind => 'registry',
		auth => $auth,
		tls => $opts{tls} ? 1 : 0,
		users => $opts{users} // {},
		service => $opts{service} // 'imagestream-test-registry',
		issuer => $opts{issuer} // 'imagestream-test-issuer',
		max_lifetime => $opts{max_lifetime} // 900,
		timeout => $opts{timeout} // 10,
		tokens => {},
	}, $class;
	$self->{dir} = _tempdir('registry');
	$self->{log_file} = _log_file('registry', $self->{dir});
	$LIVE{"$self"} = $self;
	weaken($LIVE{"$self"});

	if ($auth ne 'none')
	{
		croak 'users => {name => password} is needed with auth'
		  unless %{ $self->{users} };
		my $u = $opts{push_user} // (sort keys %{ $self->{users} })[0];
		$self->set_credentials($u, _password($self->{users}{$u}));
	}

	$self->_make_tls if $self->{tls};
	$self->_make_htpasswd if $auth eq 'htpasswd';
	$self->_start_issuer(%opts) if $auth eq 'token';

	my $tries = $opts{port} ? 1 : 5;
	for my $try (1 .. $tries)
	{
		my $port = $opts{port} // free_port();
		$self->{port} = $port;
		$self->_write_config(%opts);
		$self->{pid} = _spawn([ $REGISTRY_BIN, 'serve', "$self->{dir}/config.yml" ],
			$self->{log_file}, $self->{max_lifetime});
		my $st = $self->_wait_ready;
		return $self if $st eq 'ready';
		_stop_group(delete $self->{pid});
		next if $st eq 'inuse' && $try < $tries;
		my $tail = _slurp($self->{log_file});
		$tail = substr($tail, -3000) if length $tail > 3000;
		$self->stop;
		croak "docker-registry did not start ($st) on port $port; log $self->{log_file}:\n$tail";
	}
	croak 'not reached';
}

sub _password
{
	my ($entry) = @_;
	return ref $entry ? $entry->{password} : $entry;
}

sub _wait_ready
{
	my ($self) = @_;
	my $deadline = time + $self->{timeout};
	my $logsize = -s $self->{log_file} // 0;
	while (time < $deadline)
	{
		if (!_alive($self->{pid}))
		{
			my $log = substr(_slurp($self->{log_file}), $logsize);
			return $log =~ /address already in use/i ? 'inuse' : 'exited';
		}
		my $r = $self->_http('GET', $self->url . '/v2/', headers => {}, timeout => 2);
		return 'ready' if $r->{status} == 200 || $r->{status} == 401;
		sleep 0.1;
	}
	return 'timeout';
}

sub _make_tls
{
	my ($self) = @_;
	my $d = "$self->{dir}/tls";
	make_path($d);
	my @ec = ('-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes');
	_run('openssl', 'req', '-x509', @ec, '-keyout', "$d/ca.key", '-out', "$d/ca.pem",
		'-days', '3', '-subj', '/CN=imagestream test CA',
		'-addext', 'basicConstraints=critical,CA:TRUE',
		'-addext', 'keyUsage=critical,keyCertSign,cRLSign');
	_run('openssl', 'req', '-new', @ec, '-keyout', "$d/server.key", '-out', "$d/server.csr",
		'-subj', '/CN=127.0.0.1');
	_spew("$d/server.ext",
		"subjectAltName=IP:127.0.0.1,DNS:localhost\n"
		  . "basicConstraints=CA:FALSE\n"
		  . "keyUsage=critical,digitalSignature,keyEncipherment\n"
		  . "extendedKeyUsage=serverAuth\n");
	_run('openssl', 'x509', '-req', '-in', "$d/server.csr", '-CA', "$d/ca.pem",
		'-CAkey', "$d/ca.key", '-set_serial', '0x' . sha256_hex(rand() . $$ . time) =~ s/^(.{16}).*/$1/r,
		'-days', '2', '-sha256', '-extfile', "$d/server.ext", '-out', "$d/server.pem");
	chmod 0600, "$d/ca.key", "$d/server.key";
	$self->{ca_file} = "$d/ca.pem";
	$self->{tls_cert} = "$d/server.pem";
	$self->{tls_key} = "$d/server.key";
	return;
}

sub _make_htpasswd
{
	my ($self) = @_;
	my $content = '';
	for my $u (sort keys %{ $self->{users} })
	{
		my $line = _run('htpasswd', '-Bbn', $u, _password($self->{users}{$u}));
		$line =~ s/\s+\z//;
		$content .= "$line\n";
	}
	$self->{htpasswd_file} = "$self->{dir}/htpasswd";
	_spew($self->{htpasswd_file}, $content, 0600);
	return;
}

sub _start_issuer
{
	my ($self, %opts) = @_;
	my $d = "$self->{dir}/token";
	make_path($d);
	_spew("$d/users.json", $JSON->encode($self->{users}), 0600);
	$self->{token_cert} = "$d/issuer.pem";
	$self->{token_fail_file} = "$d/fail";
	$self->{issuer_log_file} = _log_file('token_issuer', $self->{dir});
	my @cmd = ($PYTHON, "$LIBDIR/token_issuer.py",
		'--host', '127.0.0.1', '--port', 0,
		'--port-file', "$d/port",
		'--users', "$d/users.json",
		'--key', "$d/issuer.key", '--cert', $self->{token_cert},
		'--issuer', $self->{issuer}, '--service', $self->{service},
		'--fail-file', $self->{token_fail_file},
		'--expires-in', $opts{token_expires_in} // 300,
		'--max-lifetime', $self->{max_lifetime},
		'--parent-pid', $$);
	push @cmd, '--anonymous-pull' if $opts{anonymous_pull};
	$self->{issuer_pid} = _spawn(\@cmd, $self->{issuer_log_file}, $self->{max_lifetime});
	my $port = _wait_port_file("$d/port", $self->{issuer_pid},
		$self->{issuer_log_file}, 'token issuer');
	$self->{token_url} = "http://127.0.0.1:$port/token";
	$self->{issuer_url} = "http://127.0.0.1:$port";
	return;
}

sub _write_config
{
	my ($self, %opts) = @_;
	my %http = (
		addr => "127.0.0.1:$self->{port}",
		secret => sha256_hex(rand() . $$ . time),
		headers => { 'X-Content-Type-Options' => ['nosniff'] },
	);
	$http{tls} = { certificate => $self->{tls_cert}, key => $self->{tls_key} }
	  if $self->{tls};
	my %cfg = (
		version => '0.1',
		log => {
			level => $opts{log_level} // 'warn',
			accesslog => { disabled => ($opts{accesslog} // 1) ? JSON::PP::false : JSON::PP::true },
		},
		storage => {
			filesystem => { rootdirectory => "$self->{dir}/data" },
			delete => { enabled => JSON::PP::true },
			maintenance => { uploadpurging => { enabled => JSON::PP::false } },
		},
		http => \%http,
	);
	if ($self->{auth} eq 'htpasswd')
	{
		$cfg{auth} = { htpasswd => { realm => 'imagestream-test', path => $self->{htpasswd_file} } };
	}
	elsif ($self->{auth} eq 'token')
	{
		$cfg{auth} = {
			token => {
				realm => $self->{token_url},
				service => $self->{service},
				issuer => $self->{issuer},
				rootcertbundle => $self->{token_cert},
			}
		};
	}
	if ($opts{notify})
	{
		$cfg{notifications} = {
			endpoints => [ {
				name => 'imagestream-test', url => $opts{notify},
				timeout => '10s', threshold => 3, backoff => '1s' } ]
		};
	}
	# extra top-level config, merged one level deep
	for my $k (keys %{ $opts{config} // {} })
	{
		my $v = $opts{config}{$k};
		if (ref $v eq 'HASH' && ref $cfg{$k} eq 'HASH') { $cfg{$k} = { %{ $cfg{$k} }, %$v } }
		else { $cfg{$k} = $v }
	}
	# JSON is YAML, which the registry reads
	_spew("$self->{dir}/config.yml", $JSON_PRETTY->encode(\%cfg), 0600);
	return;
}

sub stop
{
	my ($self) = @_;
	local $?;
	_stop_group(delete $self->{pid}) if $self->{pid};
	_stop_group(delete $self->{issuer_pid}) if $self->{issuer_pid};
	delete $LIVE{"$self"};
	return;
}

# ---------------------------------------------------------------------------
# Accessors

sub host { return ($_[0]{bind} // '127.0.0.1') . ":$_[0]{port}" }
sub port { return $_[0]{port} }
sub url { my ($s) = @_; return ($s->{tls} ? 'https' : 'http') . '://' . $s->host }
sub ca_file { return $_[0]{ca_file} }
sub token_url { return $_[0]{token_url} }
sub log_file { return $_[0]{log_file} }
sub issuer_log_file { return $_[0]{issuer_log_file} }
sub dir { return $_[0]{dir} }
sub service { return $_[0]{service} }
sub issuer { return $_[0]{issuer} }
sub users { return $_[0]{users} }
sub credentials { return ($_[0]{user}, $_[0]{password}) }
sub last_response { return $_[0]{last_response} }

# The user the client pushes as (undef: anonymous).
sub set_credentials
{
	my ($self, $user, $password) = @_;
	$self->{user} = $user;
	$self->{password} = $password;
	$self->{tokens} = {};
	return;
}

# Token issuer counters: {requests, tokens, failures, denied, by_user, scopes,
# granted ({user => {repository => tokens that gave it actions there}})}.
sub token_stats
{
	my ($self) = @_;
	croak 'no token issuer' unless $self->{issuer_url};
	my $r = HTTP::Tiny->new(proxy => undef, http_proxy => undef, timeout => 10)
	  ->get("$self->{issuer_url}/_stats");
	croak "token stats: $r->{status} $r->{content}" unless $r->{success};
	return $JSON->decode($r->{content});
}

# While on, the token endpoint answers 500.
sub token_fail
{
	my ($self, $on) = @_;
	croak 'no token issuer' unless $self->{token_fail_file};
	if ($on) { _spew($self->{token_fail_file}, "fail\n") }
	else { unlink $self->{token_fail_file} }
	$self->{tokens} = {};
	return;
}

# ---------------------------------------------------------------------------
# HTTP

sub _use_curl
{
	my ($self, $url) = @_;
	return 1 if $FORCE_CURL || $self->{force_curl};
	return $url =~ /^https:/ && !HTTP::Tiny->can_ssl;
}

# One HTTP exchange, no auth logic: {status, reason, headers (lower-case
# names; repeated ones as array refs), content}.  Status 599 means the
# transport failed (content says why), as with HTTP::Tiny.
sub _http
{
	my ($self, $method, $url, %o) = @_;
	return $self->_http_curl($method, $url, %o) if $self->_use_curl($url);
	my $ua = $self->{ua}{ $o{timeout} // 60 } //= RegistryTest::UA->new(
		agent => 'imagestream-registrytest/1',
		timeout => $o{timeout} // 60,
		max_redirect => 0,
		keep_alive => 1,
		proxy => undef,
		http_proxy => undef,
		https_proxy => undef,
		$self->{ca_file}
		? (verify_SSL => 1, SSL_options => { SSL_ca_file => $self->{ca_file} })
		: ());
	my $r = $ua->request($method, $url,
		{
			headers => $o{headers} // {},
			(defined $o{content} ? (content => $o{content}) : ()),
		});
	return {
		status => $r->{status},
		reason => $r->{reason},
		headers => $r->{headers} // {},
		content => $r->{content} // '',
	};
}

sub _http_curl
{
	my ($self, $method, $url, %o) = @_;
	my $d = "$self->{dir}/http";
	make_path($d) unless -d $d;
	my ($hfile, $bfile, $dfile) = ("$d/headers", "$d/body", "$d/data");
	unlink $hfile, $bfile;
	my @cmd = ('curl', '-sS', '--http1.1', '--noproxy', '*',
		'--max-time', $o{timeout} // 60, '-D', $hfile, '-H', 'Expect:');
	push @cmd, '--cacert', $self->{ca_file} if $self->{ca_file};
	if ($method eq 'HEAD') { push @cmd, '--head', '-o', '/dev/null' }
	else { push @cmd, '-X', $method, '-o', $bfile }
	my $h = $o{headers} // {};
	push @cmd, '-H', "$_: $h->{$_}" for sort keys %$h;
	if (defined $o{content})
	{
		_spew($dfile, $o{content});
		push @cmd, '--data-binary', "\@$dfile";
	}
	push @cmd, '--', $url;
	my ($out, $err) = ('', '');
	my $ok = eval {
		IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err,
			IPC::Run::timeout(($o{timeout} // 60) + 10));
	};
	my $raw = _slurp($hfile);
	my @blocks = grep { /^HTTP\// } split /\r?\n\r?\n/, $raw;
	if (!@blocks)
	{
		return { status => 599, reason => 'Internal Exception', headers => {},
			content => ($@ || $err || 'curl failed') };
	}
	my ($status_line, @lines) = split /\r?\n/, $blocks[-1];
	my ($status, $reason) = $status_line =~ m{^HTTP/\S+\s+(\d+)\s*(.*)$};
	$reason //= '';
	my %headers;
	for my $l (@lines)
	{
		next unless $l =~ /^([^:]+):\s*(.*?)\s*$/;
		my ($k, $v) = (lc $1, $2);
		if (!exists $headers{$k}) { $headers{$k} = $v }
		elsif (ref $headers{$k}) { push @{ $headers{$k} }, $v }
		else { $headers{$k} = [ $headers{$k}, $v ] }
	}
	my $r = {
		status => $status,
		reason => $reason,
		headers => \%headers,
		content => $method eq 'HEAD' ? '' : _slurp($bfile),
	};
	# the headers arrived but the body did not: report it like HTTP::Tiny
	if (!$ok && $status != 599)
	{
		$r->{status} = 599;
		$r->{reason} = 'Internal Exception';
		$r->{content} = $err;
	}
	return $r;
}

# First value of a response header.
sub header
{
	my ($r, $name) = @_;
	my $v = $r->{headers}{ lc $name };
	return ref $v ? $v->[0] : $v;
}

# {scheme, realm, service, scope, error} of a WWW-Authenticate value.
sub parse_challenge
{
	my ($v) = @_;
	return unless defined $v;
	$v = $v->[0] if ref $v;
	return unless $v =~ /^\s*(\w+)\s*(.*)$/s;
	my %c = (scheme => lc $1);
	my $rest = $2;
	while ($rest =~ /\G\s*,?\s*([\w-]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/gc)
	{
		$c{ lc $1 } = defined $2 ? $2 : $3;
	}
	return \%c;
}

sub _basic
{
	my ($u, $p) = @_;
	return 'Basic ' . encode_base64("$u:$p", '');
}

# A bearer token from the issuer for scope (with the current credentials).
sub fetch_token
{
	my ($self, %o) = @_;
	my $realm = $o{realm} // $self->{token_url};
	my $q = 'service=' . _uri_escape($o{service} // $self->{service});
	$q .= '&scope=' . _uri_escape($_) for grep { defined } (ref $o{scope} ? @{ $o{scope} } : $o{scope});
	my %h;
	$h{Authorization} = _basic($self->{user}, $self->{password})
	  if defined $self->{user} && !$o{anonymous};
	my $r = $self->_http('GET', $realm . ($realm =~ /\?/ ? '&' : '?') . $q, headers => \%h);
	croak "token request to $realm: $r->{status} $r->{content}" unless $r->{status} == 200;
	my $j = eval { $JSON->decode($r->{content}) } or croak "token response is not JSON: $r->{content}";
	my $tok = $j->{token} // $j->{access_token} or croak "no token in $r->{content}";
	return $tok;
}

# request($method, $path_or_url, %o) -> response hash (see _http).
#   headers => {...}, content => bytes, repo => REPO (token scope
#   repository:REPO:pull,push), scope => explicit token scope,
#   anonymous => 1 (no credentials at all), timeout => seconds.
# Adds Basic auth (htpasswd) or does the Bearer flow (token): one retry
# after a 401 Bearer challenge.
sub request
{
	my ($self, $method, $path, %o) = @_;
	my $url = $path =~ m{^https?://} ? $path : $self->url . $path;
	my %h = %{ $o{headers} // {} };
	my $auth = $self->{auth} // 'none';
	my $scope = $o{scope} // (defined $o{repo} ? "repository:$o{repo}:pull,push" : undef);
	if (!$o{anonymous} && !exists $h{Authorization})
	{
		if ($auth eq 'htpasswd' && defined $self->{user})
		{
			$h{Authorization} = _basic($self->{user}, $self->{password});
		}
		elsif ($auth eq 'token' && defined $scope && $self->{tokens}{$scope}
			&& $self->{tokens}{$scope}{until} > time)
		{
			$h{Authorization} = "Bearer $self->{tokens}{$scope}{token}";
		}
	}
	my %req = (headers => \%h, content => $o{content}, timeout => $o{timeout});
	my $r = $self->_http($method, $url, %req);
	if ($r->{status} == 401 && $auth eq 'token' && !$o{anonymous} && !$o{no_retry})
	{
		my $ch = parse_challenge($r->{headers}{'www-authenticate'});
		if ($ch && $ch->{scheme} eq 'bearer' && $ch->{realm})
		{
			my $s = $scope // $ch->{scope};
			my $tok = $self->fetch_token(realm => $ch->{realm}, service => $ch->{service},
				scope => $s);
			$self->{tokens}{ $s // '' } = { token => $tok, until => time + 240 };
			$h{Authorization} = "Bearer $tok";
			$r = $self->_http($method, $url, %req);
		}
	}
	$self->{last_response} = $r;
	return $r;
}

sub _check
{
	my ($r, $want, $what) = @_;
	my %w = map { $_ => 1 } ref $want ? @$want : ($want);
	return $r if $w{ $r->{status} };
	my $c = $r->{content} // '';
	$c = substr($c, 0, 500) . '...' if length $c > 500;
	croak "$what: HTTP $r->{status} $r->{reason}: $c";
}

# ---------------------------------------------------------------------------
# Building images

# A ustar archive of [name, content, mode] entries (names ending in "/" are
# directories), with a fixed mtime so equal content gives equal bytes.
sub make_tar
{
	my (@entries) = @_;
	my $out = '';
	for my $e (@entries)
	{
		my ($name, $data, $mode) = @$e;
		my $dir = $name =~ m{/$};
		$data = '' if $dir;
		$mode //= $dir ? 0755 : 0644;
		croak "tar name too long: $name" if length $name > 99;
		my $h = pack('a100 a8 a8 a8 a12 a12 a8 a1 a100 a6 a2 a32 a32 a8 a8 a155 a12',
			$name, sprintf('%07o', $mode), sprintf('%07o', 0), sprintf('%07o', 0),
			sprintf('%011o', length $data), sprintf('%011o', 1704067200),
			' ' x 8, $dir ? '5' : '0', '', "ustar", '00', 'root', 'root',
			sprintf('%07o', 0), sprintf('%07o', 0), '', '');
		my $sum = unpack('%32C*', $h);
		substr($h, 148, 8) = sprintf("%06o\0 ", $sum);
		$out .= $h . $data;
		$out .= "\0" x (512 - length($data) % 512) if length($data) % 512;
	}
	$out .= "\0" x 1024;
	return $out;
}

sub gzip_bytes
{
	my ($data) = @_;
	my $gz;
	IO::Compress::Gzip::gzip(\$data => \$gz, Minimal => 1, Time => 0)
	  or croak "gzip failed: $GzipError";
	return $gz;
}

sub _digest { return 'sha256:' . sha256_hex($_[0]) }

# Uploads a blob unless present; returns its digest.
sub push_blob
{
	my ($self, $repo, $bytes) = @_;
	my $digest = _digest($bytes);
	my $r = $self->request('HEAD', "/v2/$repo/blobs/$digest", repo => $repo);
	return $digest if $r->{status} == 200;
	$r = _check($self->request('POST', "/v2/$repo/blobs/uploads/", repo => $repo,
		content => '', headers => { 'Content-Type' => 'application/octet-stream' }),
		202, "start upload to $repo");
	my $loc = header($r, 'Location') // croak 'upload without Location';
	$loc = $self->url . $loc if $loc =~ m{^/};
	$loc .= ($loc =~ /\?/ ? '&' : '?') . 'digest=' . _uri_escape($digest);
	_check($self->request('PUT', $loc, repo => $repo, content => $bytes,
		headers => { 'Content-Type' => 'application/octet-stream' }),
		201, "upload $digest to $repo");
	return $digest;
}

# PUTs manifest bytes under $ref (a tag; undef: by digest); returns digest.
sub put_manifest
{
	my ($self, $repo, $ref, $bytes, $media_type) = @_;
	my $digest = _digest($bytes);
	$ref //= $digest;
	my $r = _check($self->request('PUT', "/v2/$repo/manifests/$ref", repo => $repo,
		content => $bytes, headers => { 'Content-Type' => $media_type }),
		201, "put manifest $repo:$ref");
	my $got = header($r, 'Docker-Content-Digest');
	croak "registry says $got for manifest $digest" if defined $got && $got ne $digest;
	return $digest;
}

# Pushes a tiny image; see the header of this file and the report.
#   arch (amd64), os (linux), variant, format (docker|oci), content (layer
#   text; vary it for a new digest), layers (count, 1), created, env, cmd,
#   entrypoint, labels, user, workdir, exposed_ports, annotations (oci),
#   config_extra (top-level config fields).  $tag undef: by digest only.
sub push_image
{
	my ($self, $repo, $tag, %o) = @_;
	my $format = $o{format} // 'docker';
	croak "format must be docker or oci" unless $format =~ /^(docker|oci)$/;
	my $oci = $format eq 'oci';
	my %plat = (architecture => $o{arch} // 'amd64', os => $o{os} // 'linux');
	$plat{variant} = $o{variant} if defined $o{variant};
	my $platstr = join('/', @plat{qw(os architecture)}, $o{variant} // ());
	my $content = $o{content} // "imagestream test image $repo for $platstr\n";
	my $created = $o{created} // '2024-01-01T00:00:00Z';

	my (@layers, @diff_ids);
	my $nlayers = $o{layers} // 1;
	for my $i (1 .. $nlayers)
	{
		my $text = $i == 1 ? $content : "$content(layer $i)\n";
		my $tar = make_tar([ 'imagestream/', undef ], [ "imagestream/layer$i.txt", $text ]);
		push @diff_ids, _digest($tar);
		push @layers, gzip_bytes($tar);
	}
	my %cfg = (
		%plat,
		created => $created,
		author => 'imagestream tests',
		config => {
			Env => $o{env} // [ 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
				'IMAGESTREAM_TEST=1' ],
			Cmd => $o{cmd} // [ '/bin/sh', '-c', 'echo hello' ],
			Entrypoint => $o{entrypoint} // ['/docker-entrypoint.sh'],
			Labels => $o{labels} // {
				'org.opencontainers.image.title' => $repo,
				'org.imagestream.test' => 'true',
			},
			User => $o{user} // '1000:1000',
			WorkingDir => $o{workdir} // '/app',
			ExposedPorts => $o{exposed_ports} // { '8080/tcp' => {} },
		},
		rootfs => { type => 'layers', diff_ids => \@diff_ids },
		history => [ map { { created => $created, created_by => "imagestream test layer $_" } } 1 .. $nlayers ],
		%{ $o{config_extra} // {} },
	);
	my $config = $JSON->encode(\%cfg);
	my $config_digest = $self->push_blob($repo, $config);
	my @layer_digests = map { $self->push_blob($repo, $_) } @layers;

	my $mt = $oci ? MT_OCI : MT_DOCKER;
	my %m = (
		schemaVersion => 2,
		mediaType => $mt,
		config => {
			mediaType => $oci ? MT_OCI_CONFIG : MT_DOCKER_CONFIG,
			size => 0 + length($config),
			digest => $config_digest,
		},
		layers => [
			map {
				{
					mediaType => $oci ? MT_OCI_LAYER : MT_DOCKER_LAYER,
					size => 0 + length($layers[$_]),
					digest => $layer_digests[$_],
				}
			} 0 .. $#layers
		],
	);
	$m{annotations} = $o{annotations} if $oci && $o{annotations};
	my $manifest = $JSON_PRETTY->encode(\%m);
	my $digest = $self->put_manifest($repo, $tag, $manifest, $mt);
	return {
		repo => $repo,
		tag => $tag,
		digest => $digest,
		manifest => $manifest,
		media_type => $mt,
		size => length($manifest),
		config => $config,
		config_digest => $config_digest,
		layers => \@layers,
		layer_digests => \@layer_digests,
		diff_ids => \@diff_ids,
		platform => \%plat,
	};
}

# Pushes a manifest list (format docker) or OCI index (format oci) of
# images pushed to the same repository; $tag undef: by digest only.
#   annotations (oci), platforms => [{os, architecture, variant}, ...] to
#   override the children's own.
sub push_index
{
	my ($self, $repo, $tag, $children, %o) = @_;
	my $format = $o{format} // 'docker';
	croak "format must be docker or oci" unless $format =~ /^(docker|oci)$/;
	my $mt = $format eq 'oci' ? MT_OCI_INDEX : MT_DOCKER_LIST;
	my @entries;
	for my $i (0 .. $#$children)
	{
		my $c = $children->[$i];
		my $p = $o{platforms} ? $o{platforms}[$i] : $c->{platform};
		push @entries, {
			mediaType => $c->{media_type},
			size => 0 + length($c->{manifest}),
			digest => $c->{digest},
			platform => { map { defined $p->{$_} ? ($_ => $p->{$_}) : () } qw(architecture os variant) },
		};
	}
	my %m = (schemaVersion => 2, mediaType => $mt, manifests => \@entries);
	$m{annotations} = $o{annotations} if $format eq 'oci' && $o{annotations};
	my $manifest = $JSON_PRETTY->encode(\%m);
	my $digest = $self->put_manifest($repo, $tag, $manifest, $mt);
	return {
		repo => $repo,
		tag => $tag,
		digest => $digest,
		manifest => $manifest,
		media_type => $mt,
		size => length($manifest),
		children => [ map { $_->{digest} } @$children ],
	};
}

# Docker-Content-Digest of HEAD manifests/REF (Accept: the four manifest
# types), or undef if the answer is not 200 (see last_response).
sub manifest_digest
{
	my ($self, $repo, $ref) = @_;
	my $r = $self->request('HEAD', "/v2/$repo/manifests/$ref", repo => $repo,
		headers => { Accept => $ACCEPT });
	return undef unless $r->{status} == 200;
	return header($r, 'Docker-Content-Digest');
}

# GET manifests/REF: {status, content, media_type, digest}.
sub get_manifest
{
	my ($self, $repo, $ref) = @_;
	my $r = $self->request('GET', "/v2/$repo/manifests/$ref", repo => $repo,
		headers => { Accept => $ACCEPT });
	return {
		status => $r->{status},
		content => $r->{content},
		media_type => header($r, 'Content-Type'),
		digest => header($r, 'Docker-Content-Digest'),
	};
}

# All tags of a repository (follows Link pagination; n => page size).
sub tags
{
	my ($self, $repo, %o) = @_;
	my $path = "/v2/$repo/tags/list" . ($o{n} ? "?n=$o{n}" : '');
	my @tags;
	for (1 .. 1000)
	{
		my $r = _check($self->request('GET', $path, repo => $repo), 200, "tags of $repo");
		push @tags, @{ $JSON->decode($r->{content})->{tags} // [] };
		my $link = header($r, 'Link') // last;
		$link =~ /<([^>]+)>/ or last;
		$path = $1;
	}
	return \@tags;
}

# Repository names (/v2/_catalog, pages of 1000, the registry's maximum).
sub catalog
{
	my ($self) = @_;
	my $path = '/v2/_catalog?n=1000';
	my @repos;
	for (1 .. 1000)
	{
		my $r = _check($self->request('GET', $path, scope => 'registry:catalog:*'), 200, 'catalog');
		push @repos, @{ $JSON->decode($r->{content})->{repositories} // [] };
		my $link = header($r, 'Link') // last;
		$link =~ /<([^>]+)>/ or last;
		$path = $1;
	}
	return \@repos;
}

# Tags one image under many tags: pushes the blobs once, then PUTs the same
# manifest under each tag.  tags => [...] or $n tags "1.0.1" .. "1.0.$n";
# the push_image options apply.  Returns {digest, tags, image}.
sub push_many_tags
{
	my ($self, $repo, $n, %o) = @_;
	my $tags = delete $o{tags} // [ map { "1.0.$_" } 1 .. $n ];
	croak 'no tags' unless @$tags;
	my $img = $self->push_image($repo, $tags->[0], %o);
	my @rest = @$tags[ 1 .. $#$tags ];
	my $url = $self->url;
	if ($self->_use_curl($url))
	{
		my $d = "$self->{dir}/http";
		make_path($d) unless -d $d;
		_spew("$d/manifest", $img->{manifest});
		while (my @batch = splice(@rest, 0, 100))
		{
			my @cmd = ('curl', '-sS', '--http1.1', '--noproxy', '*', '--max-time', 60,
				'-X', 'PUT', '-H', 'Expect:', '-H', "Content-Type: $img->{media_type}",
				'--data-binary', "\@$d/manifest", '-w', '%{http_code}\n');
			push @cmd, '--cacert', $self->{ca_file} if $self->{ca_file};
			my $auth = $self->_current_auth("repository:$repo:pull,push");
			push @cmd, '-H', "Authorization: $auth" if $auth;
			push @cmd, map { ('-o', '/dev/null', "$url/v2/$repo/manifests/$_") } @batch;
			my $out = _run(@cmd);
			my @codes = split /\n/, $out;
			for my $i (0 .. $#batch)
			{
				next if ($codes[$i] // '') eq '201';
				# e.g. an expired token: the slow way, with the auth flow
				$self->put_manifest($repo, $batch[$i], $img->{manifest}, $img->{media_type});
			}
		}
	}
	else
	{
		$self->put_manifest($repo, $_, $img->{manifest}, $img->{media_type}) for @rest;
	}
	return { digest => $img->{digest}, tags => $tags, image => $img };
}

sub _current_auth
{
	my ($self, $scope) = @_;
	my $auth = $self->{auth} // 'none';
	return _basic($self->{user}, $self->{password})
	  if $auth eq 'htpasswd' && defined $self->{user};
	my $t = $self->{tokens}{$scope};
	return "Bearer $t->{token}" if $auth eq 'token' && $t && $t->{until} > time;
	return;
}

# Removes one tag and only that tag.  The registry (2.8) cannot DELETE a
# tag (it answers 400 DIGEST_INVALID) and deleting a manifest by digest
# removes every tag pointing at it, so the tag is first moved to a unique
# throw-away image, which is then deleted by digest.  Returns the HTTP status
# of that DELETE (202 when deleted).
sub delete_tag
{
	my ($self, $repo, $tag) = @_;
	my $tomb = $self->push_image($repo, $tag,
		content => "tombstone for $repo:$tag " . sha256_hex(rand() . $$ . time));
	return $self->delete_manifest($repo, $tomb->{digest});
}

# DELETE manifests/DIGEST: the manifest and every tag pointing at it.
sub delete_manifest
{
	my ($self, $repo, $digest) = @_;
	return $self->request('DELETE', "/v2/$repo/manifests/$digest", repo => $repo,
		scope => "repository:$repo:pull,push,delete")->{status};
}

# ---------------------------------------------------------------------------
# Cosign signatures, written here: Debian has no cosign, and its skopeo
# cannot sign with sigstore (/work/shared/notes/cosign-signatures.md)

use constant {
	MT_COSIGN_PAYLOAD => 'application/vnd.dev.cosign.simplesigning.v1+json',
	COSIGN_ANNOTATION => 'dev.cosignproject.cosign/signature',
};

# A private key made by openssl in $dir, with its public key beside it:
# {type, key (file), public (file, PEM), public_pem}.  type => p256 (ECDSA
# on P-256, the default) or ed25519; name => the files' name (cosign-TYPE).
sub make_signing_key
{
	my ($dir, %o) = @_;
	my $type = $o{type} // 'p256';
	my $name = $o{name} // "cosign-$type";
	my ($key, $pub) = ("$dir/$name.key", "$dir/$name.pub");
	if ($type eq 'p256')
	{
		_run('openssl', 'ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', $key);
	}
	elsif ($type eq 'ed25519')
	{
		_run('openssl', 'genpkey', '-algorithm', 'ed25519', '-out', $key);
	}
	else
	{
		croak "type must be p256 or ed25519, not $type";
	}
	chmod 0600, $key;
	_run('openssl', 'pkey', '-in', $key, '-pubout', '-out', $pub);
	return { type => $type, key => $key, public => $pub, public_pem => _slurp($pub) };
}

# The payload cosign signs for an image (simple signing), as cosign writes
# it: $reference is the repository (HOST/REPO), $digest the image's;
# optional => {annotations} (else null).
sub simple_signing_payload
{
	my ($reference, $digest, %o) = @_;
	return $JSON->encode({
		critical => {
			identity => { 'docker-reference' => $reference },
			image => { 'docker-manifest-digest' => $digest },
			type => 'cosign container image signature',
		},
		optional => $o{optional},
	});
}

# The key's type: that of a make_signing_key hash, or read from a PEM file.
sub _key_type
{
	my ($key) = @_;
	return $key->{type} if ref $key;
	return _run('openssl', 'pkey', '-in', $key, '-noout', '-text') =~ /ED25519/i ? 'ed25519' : 'p256';
}

# Signs $payload (bytes) with $key (a make_signing_key hash or a PEM file) as
# cosign does: ECDSA P-256 over its SHA-256 (DER), or Ed25519 over the bytes;
# returns the signature in base64.
sub sign_payload
{
	my ($key, $payload) = @_;
	my $file = ref $key ? $key->{key} : $key;
	my $dir = File::Temp::tempdir(CLEANUP => 1);
	_spew("$dir/payload", $payload);
	if (_key_type($key) eq 'ed25519')
	{
		_run('openssl', 'pkeyutl', '-sign', '-inkey', $file, '-rawin', '-in', "$dir/payload",
			'-out', "$dir/sig");
	}
	else
	{
		_run('openssl', 'dgst', '-sha256', '-sign', $file, '-out', "$dir/sig", "$dir/payload");
	}
	return encode_base64(_slurp("$dir/sig"), '');
}

# Whether $signature (base64) of $payload verifies with $public (a
# make_signing_key hash or a public key PEM file), by openssl.
sub verify_payload
{
	my ($public, $payload, $signature) = @_;
	my $file = ref $public ? $public->{public} : $public;
	my $dir = File::Temp::tempdir(CLEANUP => 1);
	_spew("$dir/payload", $payload);
	_spew("$dir/sig", MIME::Base64::decode_base64($signature));
	my $ed = _run('openssl', 'pkey', '-pubin', '-in', $file, '-noout', '-text') =~ /ED25519/i;
	my @cmd = $ed
	  ? ('openssl', 'pkeyutl', '-verify', '-pubin', '-inkey', $file, '-rawin', '-in', "$dir/payload",
		'-sigfile', "$dir/sig")
	  : ('openssl', 'dgst', '-sha256', '-verify', $file, '-signature', "$dir/sig", "$dir/payload");
	my ($out, $err) = ('', '');
	return IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(60)) ? 1 : 0;
}

# Pushes cosign signatures of $digest in $repo as cosign stores them where a
# registry has no referrers API: an OCI manifest of a small config and one
# simple signing payload layer a signature (its base64 signature in the
# layer's annotation dev.cosignproject.cosign/signature), at the tag
# "sha256-HEX.sig" (tag => another).  One signature by the options
# key (a make_signing_key hash or a private key PEM file), payload_digest
# (the digest the payload names: $digest), reference (HOST/REPO of this
# registry), optional, payload (the bytes instead), signature (the base64
# instead of signing: a bad one); or several, signatures => [{the same
# options}, ...].  append => 1 keeps the signatures the tag has (cosign adds
# a signature to them).  Returns {digest, tag, manifest, layers => [{digest,
# payload, signature}]}.
sub push_signature
{
	my ($self, $repo, $digest, %o) = @_;
	my $tag = $o{tag} // ($digest =~ s/:/-/r) . '.sig';
	my @wanted = $o{signatures} ? @{ $o{signatures} } : (\%o);
	my @layers;
	if ($o{append})
	{
		my $r = $self->request('GET', "/v2/$repo/manifests/$tag", repo => $repo,
			headers => { Accept => MT_OCI });
		@layers = @{ $JSON->decode($r->{content})->{layers} } if $r->{status} == 200;
	}
	my @made;
	for my $w (@wanted)
	{
		my $payload = $w->{payload} // simple_signing_payload($w->{reference} // $self->host . "/$repo",
			$w->{payload_digest} // $digest, optional => $w->{optional});
		my $signature = $w->{signature} // sign_payload($w->{key} // croak('key => is needed'), $payload);
		my $d = $self->push_blob($repo, $payload);
		push @layers, {
			mediaType => MT_COSIGN_PAYLOAD,
			size => 0 + length($payload),
			digest => $d,
			annotations => { COSIGN_ANNOTATION() => $signature },
		};
		push @made, { digest => $d, payload => $payload, signature => $signature };
	}
	my $config = $JSON->encode({
		architecture => '', os => '', config => {}, created => '0001-01-01T00:00:00Z',
		history => [ { created => '0001-01-01T00:00:00Z' } ],
		rootfs => { type => 'layers', diff_ids => [ map { $_->{digest} } @layers ] },
	});
	my $manifest = $JSON->encode({
		schemaVersion => 2,
		mediaType => MT_OCI,
		config => { mediaType => MT_OCI_CONFIG, size => 0 + length($config),
			digest => $self->push_blob($repo, $config) },
		layers => \@layers,
	});
	return {
		digest => $self->put_manifest($repo, $tag, $manifest, MT_OCI),
		tag => $tag,
		manifest => $manifest,
		layers => \@made,
	};
}

# ---------------------------------------------------------------------------
# The hostile registry (hostile_registry.py)

# RegistryTest->start_hostile(%opts): huge_size, slow_interval,
# slow_seconds, endless_seconds, endless_chunk, endless_delay,
# endless_max_bytes, paged_tags, redirect_target, basic_credentials,
# big_count, big_config_size, repeat_count, many_children, tiny_count,
# tiny_size, page_count, page_size, huge_list_tags, cosign_key (a private key
# file: the "signed" scenario's signatures are made with it), max_lifetime
# (600), port, bind (127.0.0.1), tls (HTTPS with a certificate of a CA of its
# own, ca_file).
sub start_hostile
{
	my ($class, %opts) = @_;
	my ($ok, $why) = $class->available(hostile => 1);
	croak $why unless $ok;
	my $self = bless {
		kind => 'hostile',
		auth => 'none',
		tls => $opts{tls} ? 1 : 0,
		max_lifetime => $opts{max_lifetime} // 600,
		tokens => {},
		bind => $opts{bind},
	}, 'RegistryTest::Hostile';
	$self->{dir} = _tempdir('hostile');
	$self->_make_tls if $self->{tls};
	$self->{log_file} = _log_file('hostile', $self->{dir});
	$LIVE{"$self"} = $self;
	weaken($LIVE{"$self"});
	my @cmd = ($PYTHON, "$LIBDIR/hostile_registry.py",
		'--host', $opts{bind} // '127.0.0.1', '--port', $opts{port} // 0,
		'--port-file', "$self->{dir}/port",
		'--max-lifetime', $self->{max_lifetime}, '--parent-pid', $$);
	push @cmd, '--tls-cert', $self->{tls_cert}, '--tls-key', $self->{tls_key} if $self->{tls};
	for my $k (qw(huge_size slow_interval slow_seconds endless_seconds endless_chunk
		endless_delay endless_max_bytes paged_tags page_cap redirect_target basic_credentials
		big_count big_config_size repeat_count many_children tiny_count tiny_size page_count page_size
		huge_list_tags cosign_key))
	{
		push @cmd, '--' . ($k =~ tr/_/-/r), $opts{$k} if defined $opts{$k};
	}
	$self->{pid} = _spawn(\@cmd, $self->{log_file}, $self->{max_lifetime});
	$self->{port} = _wait_port_file("$self->{dir}/port", $self->{pid},
		$self->{log_file}, 'hostile registry');
	return $self;
}

# RegistryTest->start_proxy(%opts) -> an HTTP proxy (tiny_proxy.py) with the
# accessors of a hostile registry: host, port, url, request_log ([{method,
# target, authorization}]), reset_log, stop.  max_lifetime (600).
sub start_proxy
{
	my ($class, %opts) = @_;
	my $self = bless {
		kind => 'proxy',
		tls => 0,
		max_lifetime => $opts{max_lifetime} // 600,
	}, 'RegistryTest::Hostile';
	$self->{dir} = _tempdir('proxy');
	$self->{log_file} = _log_file('proxy', $self->{dir});
	$LIVE{"$self"} = $self;
	weaken($LIVE{"$self"});
	$self->{pid} = _spawn([ $PYTHON, "$LIBDIR/tiny_proxy.py", '--port-file', "$self->{dir}/port",
			'--max-lifetime', $self->{max_lifetime}, '--parent-pid', $$,
			$opts{tag_page} ? ('--tag-page', $opts{tag_page}) : () ],
		$self->{log_file}, $self->{max_lifetime});
	$self->{port} = _wait_port_file("$self->{dir}/port", $self->{pid}, $self->{log_file}, 'proxy');
	return $self;
}

sub start_event_receiver
{
	my ($class, %opts) = @_;
	my $self = bless {
		kind => 'receiver',
		tls => 0,
		max_lifetime => $opts{max_lifetime} // 600,
	}, 'RegistryTest::Hostile';
	$self->{dir} = _tempdir('receiver');
	$self->{log_file} = _log_file('receiver', $self->{dir});
	$LIVE{"$self"} = $self;
	weaken($LIVE{"$self"});
	$self->{pid} = _spawn([ $PYTHON, "$LIBDIR/event_receiver.py", '--port-file', "$self->{dir}/port",
			'--psql', $opts{psql}, '--pghost', $opts{pghost}, '--pgport', $opts{pgport},
			'--user', $opts{user}, '--dbname', $opts{dbname} // 'postgres',
			'--max-lifetime', $self->{max_lifetime}, '--parent-pid', $$ ],
		$self->{log_file}, $self->{max_lifetime});
	$self->{port} = _wait_port_file("$self->{dir}/port", $self->{pid}, $self->{log_file}, 'event receiver');
	return $self;
}

# HTTP::Tiny with TCP_NODELAY: it writes a request's header and body
# separately, and Nagle's algorithm with delayed ACKs would make every PUT
# with a body wait about 40 ms.
package RegistryTest::UA;

use parent -norequire, 'HTTP::Tiny';
use Socket qw(IPPROTO_TCP TCP_NODELAY);

sub _open_handle
{
	my $self = shift;
	my $h = $self->SUPER::_open_handle(@_);
	setsockopt($h->{fh}, IPPROTO_TCP, TCP_NODELAY, 1) if ref $h && $h->{fh};
	return $h;
}

package RegistryTest::Hostile;

use parent -norequire, 'RegistryTest';

# [{method, path, authorization, host, user_agent, time}] of the requests so far.
sub request_log
{
	my ($self) = @_;
	my $r = $self->_http('GET', $self->url . '/_log');
	RegistryTest::_check($r, 200, 'hostile log');
	return JSON::PP->new->utf8->decode($r->{content});
}

sub reset_log
{
	my ($self) = @_;
	RegistryTest::_check($self->_http('GET', $self->url . '/_reset'), 200, 'hostile reset');
	return;
}

1;
