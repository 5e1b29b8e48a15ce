using System.Text.Json;
using Scrun.Slurm.Messages;
using Scrun.Slurm.Messages.Steps;
using Scrun.Slurm.Wire;
using Xunit;

namespace Scrun.Tests.Slurm;

/// <summary>
/// A round trip cannot see two adjacent fields swapped; this pins each field of our layouts to
/// the byte offset where the capture's independent decode (fixtures/*/index.json) found it.
/// </summary>
public class FieldOrderTests
{
    private static readonly Dictionary<string, string> s_renamed = new()
    {
        ["select_jobinfo.plugin_id"] = "select_jobinfo",
        ["crontab_entry.present"] = "crontab_entry",
        ["node_addr_present"] = "node_addr",
        ["num_cpu_groups"] = "cpu_groups",
        ["working_cluster_rec_present"] = "working_cluster_rec",
        ["step_id.sluid"] = "sluid",
        ["step_id.job_id"] = "job_id",
        ["step_id.step_id"] = "step_id",
        ["step_id.step_het_comp"] = "step_het_comp",
    };

    public static TheoryData<string, string> Captures()
    {
        var data = new TheoryData<string, string>();
        foreach (var release in CapturedFrames.Releases)
        {
            foreach (var kind in new[] { "request_resource_allocation.req", "request_submit_batch_job.req", "request_resource_allocation.resp", "request_job_step_create.req" })
            {
                data.Add(release, kind);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Captures))]
    public void Every_field_sits_where_the_independent_decode_found_it(string release, string kind)
    {
        var version = CapturedFrames.VersionOf(release);
        var dot = kind.LastIndexOf('.');
        foreach (var file in CapturedFrames.AllOf(release, kind[..dot], kind[dot..]))
        {
            var expected = IndexedOffsets(release, file);
            var body = CapturedFrames.Message(release, file).Body;
            var actual = kind switch
            {
                "request_resource_allocation.resp" => Offsets(ResourceAllocationResponse.Layout, new ResourceAllocationResponse(), body, version),
                "request_job_step_create.req" => Offsets(JobStepCreateRequest.Layout, new JobStepCreateRequest(), body, version),
                _ => Offsets(JobDescriptor.Layout, new JobDescriptor(), body, version),
            };

            Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
            foreach (var (name, offset) in actual)
            {
                Assert.True(expected[name] == offset, $"{file}: {name} at {offset}, captured at {expected[name]}");
            }
        }
    }

    public static TheoryData<string> Releases() => [.. CapturedFrames.Releases];

    /// <summary>
    /// Job records (running, held, pending) are read up to the last field scrun uses: each field
    /// read sits where the independent decode found the field of that name.
    /// </summary>
    [Theory]
    [MemberData(nameof(Releases))]
    public void Every_job_record_field_read_sits_where_the_independent_decode_found_it(string release)
    {
        var version = CapturedFrames.VersionOf(release);
        var files = CapturedFrames.AllOf(release, "request_job_info_single", ".resp").ToList();
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var expected = IndexedOffsets(release, file);
            var reader = new SlurmReader(CapturedFrames.Message(release, file).Body);
            reader.Skip(4 + 8 + 8); // record_count, last_update, last_backfill
            var job = new JobInfo();
            foreach (var field in JobInfo.LayoutFor(version).Fields.Where(f => f.Releases.Contains(version)))
            {
                Assert.True(expected.TryGetValue(field.Name, out var offset), $"{file}: the capture has no field {field.Name}");
                Assert.True(offset == reader.Position, $"{file}: {field.Name} at {reader.Position}, captured at {offset}");
                field.Read(ref reader, job);
            }
        }
    }

    private static Dictionary<string, int> Offsets<T>(WireLayout<T> layout, T message, byte[] body, ProtocolVersion version)
    {
        var offsets = new Dictionary<string, int>();
        var reader = new SlurmReader(body);
        foreach (var field in layout.Fields.Where(f => f.Releases.Contains(version)))
        {
            offsets[field.Name] = reader.Position;
            field.Read(ref reader, message);
        }
        reader.EnsureConsumed("layout");
        return offsets;
    }

    private static Dictionary<string, int> IndexedOffsets(string release, string file)
    {
        using var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TestData", "fixtures", release, "index.json")));
        var entry = index.RootElement.EnumerateArray().Single(e => e.GetProperty("file").GetString() == file);
        var offsets = new Dictionary<string, int>();
        foreach (var field in entry.GetProperty("all_fields").EnumerateArray())
        {
            var name = field.GetProperty("name").GetString()!;
            if (name is "cpus_per_node" or "cpu_count_reps")
            {
                continue; // inside our cpu_groups field
            }
            offsets[s_renamed.GetValueOrDefault(name, name)] = field.GetProperty("body_offset").GetInt32();
        }
        return offsets;
    }
}
