using System.Runtime.InteropServices;
using Scrun.Containers.Interop;
using Xunit;

namespace Scrun.Tests.Containers;

public sealed class StepTerminalTests
{
    /// <summary>
    /// A read blocked on the terminal must not keep it open once the step is over: the relay's
    /// other side sees the end at once, instead of after its drain timeout.
    /// </summary>
    [Fact]
    public async Task Disposing_ends_a_blocked_read_and_closes_the_terminal()
    {
        var (master, slave) = Terminal.Open();
        try
        {
            var callerSide = new DescriptorStream(master);
            var terminal = StepTerminal.Open(slave);
            var tid = new TaskCompletionSource<int>();
            var result = new TaskCompletionSource<int>();
            var reader = new Thread(() =>
            {
                tid.SetResult(gettid());
                result.SetResult(terminal.Input.Read(new byte[16]));
            });
            reader.IsBackground = true;
            reader.Start();
            await WaitUntilBlockedAsync(await tid.Task);

            terminal.Dispose();
            Assert.Equal(0, await result.Task.WaitAsync(TimeSpan.FromSeconds(30)));
            // The end (EIO) on the caller's side: nothing holds the terminal any more.
            Assert.Equal(0, await Task.Run(() => callerSide.Read(new byte[16])).WaitAsync(TimeSpan.FromSeconds(30)));
        }
        finally
        {
            LibC.close(master);
        }
    }

    [Fact]
    public async Task Input_comes_in_raw()
    {
        var (master, slave) = Terminal.Open();
        try
        {
            using var terminal = StepTerminal.Open(slave);
            new DescriptorStream(master).Write("a\u0003"u8);
            var buffer = new byte[16];
            var count = await Task.Run(() => terminal.Input.Read(buffer)).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal("a\u0003"u8.ToArray(), buffer[..count]);
        }
        finally
        {
            LibC.close(master);
        }
    }

    /// <summary>Until the thread sleeps in a system call (read 0, poll 7 on x86-64).</summary>
    private static async Task WaitUntilBlockedAsync(int tid)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(30); DateTime.UtcNow < deadline; await Task.Delay(10))
        {
            var fields = File.ReadAllText($"/proc/self/task/{tid}/syscall").Split(' ');
            var state = File.ReadAllText($"/proc/self/task/{tid}/stat").Split(") ")[1][0];
            if (fields[0] is "0" or "7" && state == 'S')
            {
                return;
            }
        }
        Assert.Fail("the reader never blocked");
    }

    [DllImport("libc")]
    private static extern int gettid();
}
