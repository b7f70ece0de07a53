#include "e2e/process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

extern char** environ;

namespace veil::testing {
namespace {

pid_t Spawn(const std::vector<std::string>& argv, int out_fd,
            const std::vector<std::string>& extra_env) {
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_fd, 1);
    dup2(out_fd, 2);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    for (const auto& kv : extra_env) putenv(const_cast<char*>(kv.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

int WaitFor(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (true) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

ProcessResult RunProcess(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                         const std::vector<std::string>& extra_env) {
  char path[] = "/tmp/veil-test-out.XXXXXX";
  int fd = mkstemp(path);
  ProcessResult result;
  pid_t pid = Spawn(argv, fd, extra_env);
  close(fd);
  result.exit_code = WaitFor(pid, timeout);
  result.output = ReadFile(path);
  unlink(path);
  return result;
}

Background::Background(const std::vector<std::string>& argv, const std::string& log_path) {
  int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_ = Spawn(argv, fd, {});
  close(fd);
}

Background::~Background() {
  if (!reaped_ && pid_ > 0) Stop(SIGKILL);
}

bool Background::Alive() const {
  if (reaped_) return false;
  int status = 0;
  return waitpid(pid_, &status, WNOHANG) == 0;
}

int Background::Stop(int signal, std::chrono::milliseconds timeout) {
  if (reaped_) return -1;
  kill(pid_, signal);
  reaped_ = true;
  return WaitFor(pid_, timeout);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string MakeTempDir() {
  char path[] = "/tmp/veil-e2e.XXXXXX";
  return mkdtemp(path);
}

int FreePortBase() {
  std::random_device rd;
  // Below Linux's ephemeral range (32768-60999): a client's outgoing connection never holds one of
  // these ports when veild comes to bind it.
  std::uniform_int_distribution<int> dist(10000, 32000);
  for (int attempt = 0; attempt < 50; ++attempt) {
    int base = dist(rd) / 10 * 10;
    bool ok = true;
    for (int k = 1; k <= 5 && ok; ++k) {
      int s = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(base + k));
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ok = bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
      close(s);
    }
    if (ok) return base;
  }
  return 41000;
}

}  // namespace veil::testing
