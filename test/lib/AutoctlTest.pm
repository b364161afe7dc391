# A pg_auto_failover formation on 127.0.0.1 for the TAP tests: a monitor
# and nodes run by Debian's pg_autoctl (packages postgresql-15-auto-failover
# and pg-auto-failover-cli), each in its own process group under
# RegistryTest's watchdog, so that none outlives the test.
#
#   AutoctlTest->available;              # (1) or (0, why not)
#   my $f = AutoctlTest->new;            # PostgreSQL of `pg_config --bindir`
#   $f->create_monitor;
#   my $n1 = $f->create_node('node1');   # pg_autoctl create postgres --run
#   $f->wait_states({ node1 => 'single' }, 60) or die;
#   $f->restart($n1);                    # pg_autoctl stop, then run
#   my $h = $f->autoctl_start('perform', 'failover');   # an IPC::Run harness
#   $f->states;                          # {node1 => 'primary', ...}
#   $f->uri;                             # the formation's URI for clients
#   $f->stop_all;                        # also done by an END block
#
# A node (AutoctlTest::Node) answers name, port, data_dir, logfile (its
# log files, in order, as one file), psql and safe_psql as a
# PostgreSQL::Test::Cluster node does, so that ImagestreamTest's wait_for,
# invariants_hold and crash check (watch_server, called for each node)
# take it.
package AutoctlTest;

use strict;
use warnings;

use Carp;
use ImagestreamTest ();
use IPC::Run ();
use JSON::PP;
use POSIX qw(WNOHANG);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils ();
use RegistryTest;
use Time::HiRes qw(time sleep);

my @LIVE;			# formations not yet stopped, for the END block

END
{
	local $?;
	$_->stop_all for grep { defined } @LIVE;
}

# Whether pg_autoctl and the monitor's extension are here: (1) or (0,
# why), for skip_all.
sub available
{
	my $pkglibdir = `pg_config --pkglibdir`;
	chomp $pkglibdir;
	return (0, 'pg_autoctl not found (apt-get install pg-auto-failover-cli)')
	  unless grep { -x "$_/pg_autoctl" } split /:/, $ENV{PATH};
	return (0, "no pgautofailover in $pkglibdir (apt-get install postgresql-15-auto-failover)")
	  unless -e "$pkglibdir/pgautofailover.so";
	return (1);
}

sub new
{
	my ($class) = @_;
	my $bindir = `pg_config --bindir`;
	chomp $bindir;
	croak 'pg_config --bindir failed' unless $bindir && -x "$bindir/pg_ctl";
	my $dir = PostgreSQL::Test::Utils::tempdir('autoctl');
	mkdir "$dir/$_", 0700 for qw(config data run);
	my $self = bless {
		dir => $dir,
		bindir => $bindir,
		nodes => [],
		# pg_autoctl keeps its configuration and state under XDG
		# directories: the test's own, not the postgres user's.  PGHOST
		# (a socket directory of PostgreSQL::Test::Cluster) would be its
		# default local connection.
		env => {
			XDG_CONFIG_HOME => "$dir/config",
			XDG_DATA_HOME => "$dir/data",
			XDG_RUNTIME_DIR => "$dir/run",
			PATH => "$bindir:$ENV{PATH}",
			PG_CONFIG => "$bindir/pg_config",
			PGHOST => '127.0.0.1',
		},
	}, $class;
	push @LIVE, $self;
	return $self;
}

sub dir { return $_[0]{dir} }

# Runs pg_autoctl @args to its end (at most 120 s); its stdout, or dies
# with its output.
sub autoctl
{
	my ($self, @args) = @_;
	my ($out, $err) = ('', '');
	local @ENV{ keys %{ $self->{env} } } = values %{ $self->{env} };
	my $ok = eval {
		IPC::Run::run([ 'pg_autoctl', @args ], '<', \undef, '>', \$out, '2>', \$err,
			IPC::Run::timeout(120));
	};
	croak "pg_autoctl @args failed: " . ($@ || $err) unless $ok;
	return $out;
}

# Starts pg_autoctl @args in the background: an IPC::Run harness (a 300 s
# limit), whose output goes to the file $self->dir/<first two args>.log.
sub autoctl_start
{
	my ($self, @args) = @_;
	my $log = "$self->{dir}/$args[0]-$args[1].log";
	local @ENV{ keys %{ $self->{env} } } = values %{ $self->{env} };
	return IPC::Run::start([ 'pg_autoctl', @args ], '<', '/dev/null', '>>', $log, '2>&1',
		IPC::Run::timeout(300));
}

# A pg_autoctl service (create ... --run, run) in its own process group,
# its output appended to $log; returns the group's id.
sub _spawn
{
	my ($self, $log, @args) = @_;
	local @ENV{ keys %{ $self->{env} } } = values %{ $self->{env} };
	return RegistryTest::_spawn([ 'pg_autoctl', @args ], $log, 1800);
}

sub create_monitor
{
	my ($self) = @_;
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $m = AutoctlTest::Node->_new($self, 'monitor', $port);
	$self->{monitor} = $m;
	$m->{pid} = $self->_spawn($m->{autoctl_log}, 'create', 'monitor', '--pgctl', "$self->{bindir}/pg_ctl",
		'--pgdata', $m->data_dir, '--pgport', $port, '--listen', '127.0.0.1', '--hostname', '127.0.0.1',
		'--auth', 'trust', '--no-ssl', '--run');
	my $deadline = time + 120;
	while (time < $deadline)
	{
		return $m if eval { $self->states; 1 };
		sleep 0.2;
	}
	croak "the monitor did not start; see $m->{autoctl_log}";
}

# A node that registers with the monitor and runs (the first is "single",
# a later one becomes "secondary" once its base backup is done); its log is
# checked for crashes at done_testing (ImagestreamTest::watch_server).
sub create_node
{
	my ($self, $name) = @_;
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $n = AutoctlTest::Node->_new($self, $name, $port);
	push @{ $self->{nodes} }, $n;
	ImagestreamTest::watch_server($n);
	my $monitor = 'postgres://autoctl_node@127.0.0.1:' . $self->{monitor}->port . '/pg_auto_failover?sslmode=disable';
	$n->{pid} = $self->_spawn($n->{autoctl_log}, 'create', 'postgres', '--pgctl', "$self->{bindir}/pg_ctl",
		'--pgdata', $n->data_dir, '--pgport', $port, '--listen', '127.0.0.1', '--hostname', '127.0.0.1',
		'--name', $name, '--monitor', $monitor, '--auth', 'trust', '--no-ssl', '--run');
	return $n;
}

# {node name => its reported state, or "reported -> assigned" while they differ}
sub states
{
	my ($self) = @_;
	my $rows = JSON::PP->new->decode($self->autoctl('show', 'state', '--pgdata', $self->{monitor}->data_dir, '--json'));
	return { map {
			$_->{nodename} => $_->{current_group_state} eq $_->{assigned_group_state}
			  ? $_->{current_group_state}
			  : "$_->{current_group_state} -> $_->{assigned_group_state}"
	} @$rows };
}

# Waits until the monitor shows each named node in its state: true, or
# false after $seconds (the states are then in $self->{last_states}).
sub wait_states
{
	my ($self, $want, $seconds) = @_;
	my $deadline = time + $seconds;
	while (1)
	{
		my $s = eval { $self->states } // {};
		$self->{last_states} = $s;
		return 1 unless grep { ($s->{$_} // '') ne $want->{$_} } keys %$want;
		return 0 if time > $deadline;
		sleep 0.5;
	}
}

# The URI clients connect with: every node, target_session_attrs=read-write.
sub uri
{
	my ($self) = @_;
	my $uri = $self->autoctl('show', 'uri', '--pgdata', $self->{monitor}->data_dir, '--formation', 'default');
	chomp $uri;
	return $uri;
}

# Stops a node's pg_autoctl service (and so its server) and runs it again;
# returns once the server answers.
sub restart
{
	my ($self, $n) = @_;
	$self->_stop($n);
	$n->{pid} = $self->_spawn($n->{autoctl_log}, 'run', '--pgdata', $n->data_dir);
	my $deadline = time + 120;
	while (time < $deadline)
	{
		my ($ret) = $n->psql('postgres', 'SELECT 1');
		return if $ret == 0;
		sleep 0.2;
	}
	croak $n->name . " did not start again; see $n->{autoctl_log}";
}

# pg_autoctl stop (its server stops fast), up to 60 s; then the process
# group is killed.
sub _stop
{
	my ($self, $n) = @_;
	return unless $n->{pid};
	eval { $self->autoctl('stop', '--pgdata', $n->data_dir) };
	my $deadline = time + 60;
	while (time < $deadline)
	{
		my $r = waitpid($n->{pid}, WNOHANG);
		last if $r == $n->{pid} || $r == -1;
		sleep 0.1;
	}
	if (kill(0, -$n->{pid}))
	{
		kill 'KILL', -$n->{pid};
		waitpid($n->{pid}, 0);
	}
	delete $n->{pid};
	return;
}

# Stops every node, then the monitor.
sub stop_all
{
	my ($self) = @_;
	$self->_stop($_) for reverse(@{ $self->{nodes} }), $self->{monitor} // ();
	@LIVE = grep { defined && $_ != $self } @LIVE;
	return;
}

package AutoctlTest::Node;

use strict;
use warnings;

use IPC::Run ();

sub _new
{
	my ($class, $f, $name, $port) = @_;
	return bless {
		f => $f,
		name => $name,
		port => $port,
		data_dir => "$f->{dir}/$name",
		autoctl_log => "$f->{dir}/$name-autoctl.log",
	}, $class;
}

sub name { return $_[0]{name} }
sub port { return $_[0]{port} }
sub data_dir { return $_[0]{data_dir} }

# pg_autoctl's servers log with logging_collector to files of
# data_dir/log, a new one at each start (a standby also has copies of its
# primary's from the base backup, older): all of them, in the order of
# their names (their start times), as one file.
sub logfile
{
	my ($self) = @_;
	my $all = "$self->{f}{dir}/$self->{name}-server.log";
	open(my $out, '>', $all) or die "cannot write $all: $!";
	for my $f (sort glob("$self->{data_dir}/log/*.log"))
	{
		print $out PostgreSQL::Test::Utils::slurp_file($f);
	}
	close $out;
	return $all;
}

# As PostgreSQL::Test::Cluster::psql in list context: (psql's exit status,
# stdout, stderr), each output without its last newline.
sub psql
{
	my ($self, $db, $sql) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', $self->{port},
			'-d', $db, '-f', '-' ], '<', \$sql, '>', \$out, '2>', \$err, IPC::Run::timeout(180));
	chomp $out;
	chomp $err;
	return ($? >> 8, $out, $err);
}

sub safe_psql
{
	my ($self, $db, $sql) = @_;
	my ($ret, $out, $err) = $self->psql($db, $sql);
	die "psql on $self->{name} failed ($ret): $err\nquery: $sql" if $ret != 0;
	return $out;
}

1;
