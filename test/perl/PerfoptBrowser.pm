# PerfoptBrowser.pm — a headless Chromium for perfopt's TAP tests, driven
# through chromedriver's W3C WebDriver HTTP API with HTTP::Tiny and
# JSON::PP (no other client).  Only helpers: every assertion is made in
# the test files (test/t/156_dashboard_browser.pl).
#
#   my $why = PerfoptBrowser::missing();       # undef, or why the test must skip
#   my $b = PerfoptBrowser->start($dir);       # chromedriver + a session
#   $b->get($url); my $e = $b->find('#token'); $b->type($e, 'x'); $b->click($e);
#   $b->script('return 1+1');                  # runs in the page
#   $b->screenshot("$dir/page.png"); $b->browser_log; $b->stop;
package PerfoptBrowser;

use strict;
use warnings;

use File::Path qw(make_path);
use HTTP::Tiny;
use IPC::Run ();
use JSON::PP ();
use MIME::Base64 qw(decode_base64);
use PostgreSQL::Test::Cluster;
use Time::HiRes qw(usleep);

# the W3C web element identifier's key
my $ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

sub _which
{
	my ($name) = @_;
	for my $d (split /:/, $ENV{PATH} // '', -1)
	{
		my $p = ($d eq '' ? '.' : $d) . "/$name";
		return $p if -x $p && !-d $p;
	}
	return undef;
}

# the browser and its driver: paths from PERFOPT_CHROMIUM and
# PERFOPT_CHROMEDRIVER, else Debian's (chromium, chromium-driver)
sub _chromium { return $ENV{PERFOPT_CHROMIUM} // _which('chromium') // '/usr/bin/chromium'; }
sub _driver { return $ENV{PERFOPT_CHROMEDRIVER} // _which('chromedriver') // '/usr/bin/chromedriver'; }

# undef when a browser can run here, else why not (for skip_all)
sub missing
{
	return 'chromium is not installed (Debian: apt-get install chromium chromium-driver)'
	  unless -x _chromium();
	return 'chromedriver is not installed (Debian: apt-get install chromium-driver)'
	  unless -x _driver();
	return undef;
}

sub start
{
	my ($class, $dir) = @_;
	make_path("$dir/chromium-profile", "$dir/chromium-home");
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $log = "$dir/chromedriver.log";
	local $ENV{HOME} = "$dir/chromium-home";
	my $h = IPC::Run::start([ _driver(), "--port=$port", "--log-path=$log" ],
		'<', \undef, '>', '/dev/null', '2>', '/dev/null');
	my $self = bless {
		h => $h,
		base => "http://127.0.0.1:$port",
		http => HTTP::Tiny->new(timeout => 120),
		dir => $dir,
	}, $class;
	my $ready;
	# a minute at most: a busy machine starts it slowly
	for (1 .. 600)
	{
		my $r = $self->{http}->get("$self->{base}/status");
		if ($r->{success})
		{
			$ready = eval { JSON::PP::decode_json($r->{content})->{value}{ready} };
			last if $ready;
		}
		usleep(100_000);
	}
	die "chromedriver did not become ready (see $log)" unless $ready;
	my $caps = {
		capabilities => {
			alwaysMatch => {
				browserName => 'chrome',
				'goog:loggingPrefs' => { browser => 'ALL' },
				'goog:chromeOptions' => {
					binary => _chromium(),
					args => [
						'--headless=new', '--no-sandbox',
						'--disable-gpu', '--disable-dev-shm-usage',
						'--no-first-run', '--disable-extensions',
						'--window-size=1400,2000', "--user-data-dir=$dir/chromium-profile",
					],
				},
			},
		},
	};
	my $v = $self->_call('POST', '/session', $caps);
	$self->{session} = $v->{sessionId} or die 'WebDriver gave no session id';
	return $self;
}

# one WebDriver command: its "value", or die with WebDriver's error
sub _call
{
	my ($self, $method, $path, $body) = @_;
	my %opt = (headers => { 'Content-Type' => 'application/json' });
	$opt{content} = JSON::PP::encode_json($body) if defined $body;
	my $r = $self->{http}->request($method, $self->{base} . $path, \%opt);
	my $json = eval { JSON::PP::decode_json($r->{content}) };
	die "WebDriver $method $path: HTTP $r->{status} $r->{content}"
	  unless $r->{success} && defined $json;
	return $json->{value};
}

sub _s { my ($self, $path) = @_; return "/session/$self->{session}$path"; }

sub get { my ($self, $url) = @_; $self->_call('POST', $self->_s('/url'), { url => $url }); return; }

sub url { my ($self) = @_; return $self->_call('GET', $self->_s('/url')); }

# the element for a CSS selector (dies when there is none)
sub find
{
	my ($self, $css) = @_;
	my $v = $self->_call('POST', $self->_s('/element'), { using => 'css selector', value => $css });
	return $v->{$ELEMENT};
}

sub type
{
	my ($self, $el, $text) = @_;
	$self->_call('POST', $self->_s("/element/$el/value"), { text => $text });
	return;
}

sub click { my ($self, $el) = @_; $self->_call('POST', $self->_s("/element/$el/click"), {}); return; }

# find and click, again when the page replaced the element in between
# (its panels are redrawn when a refresh brings new data); dies after 50 tries
sub click_css
{
	my ($self, $css) = @_;
	for my $try (1 .. 50)
	{
		my $ok = eval { $self->click($self->find($css)); 1 };
		return if $ok;
		die $@ if $try == 50 || $@ !~ /stale element|no such element/;
		usleep(100_000);
	}
	return;
}

# run a script in the page (a function body; arguments in arguments[]), its result
sub script
{
	my ($self, $js, @args) = @_;
	return $self->_call('POST', $self->_s('/execute/sync'), { script => $js, args => \@args });
}

sub screenshot
{
	my ($self, $path) = @_;
	my $png = decode_base64($self->_call('GET', $self->_s('/screenshot')));
	open(my $fh, '>:raw', $path) or die "$path: $!";
	print $fh $png;
	close $fh;
	return length $png;
}

# the browser's console since the last call: [{level, message}, ...]
sub browser_log
{
	my ($self) = @_;
	return $self->_call('POST', $self->_s('/se/log'), { type => 'browser' });
}

sub stop
{
	my ($self) = @_;
	eval { $self->_call('DELETE', $self->_s('')) if $self->{session}; };
	delete $self->{session};
	if ($self->{h})
	{
		$self->{h}->signal('TERM');
		eval { $self->{h}->finish; };
		delete $self->{h};
	}
	return;
}

sub DESTROY { my ($self) = @_; $self->stop; }

1;
