-- scrun.lua: stage containers through a filesystem the compute nodes share, with rsync.
--
-- Adapted from the example in Slurm's scrun(1) man page; it runs under Slurm's own scrun
-- (23.02 and later, with a JSON module or on master) as well as under this scrun. Install it
-- beside slurm.conf. Changes from the man page:
--   * the scratch directory can be moved with SCRUN_SCRATCH_PATH (default /run/user);
--   * paths are shell-quoted, and rsync excludes only the top-level /proc and /sys;
--   * a failed copy of the root filesystem fails the container instead of running a partial one;
--   * bind-mounted directories are copied as directories (not nested one level down);
--   * every OCI hook is dropped (they name programs of the submission host), not only prestart;
--   * stage-out copies changes back without the copied bind mounts, and always removes the
--     staged bundle.
-- Needs rsync on the submission host. Each hook and command runs within scrun's limits
-- (SCRUN_STAGE_IN_TIMEOUT, SCRUN_STAGE_OUT_TIMEOUT, SCRUN_LUA_COMMAND_TIMEOUT).

local scratch_path = os.getenv("SCRUN_SCRATCH_PATH") or "/run/user"
local from_json = slurm.from_json or require('json').decode
local to_json = slurm.to_json or require('json').encode

local function quote(text)
	return "'" .. string.gsub(text, "'", "'\\''") .. "'"
end

local function read_file(path)
	local file = io.open(path, "rb")
	if not file then return nil end
	local content = file:read("a")
	file:close()
	return content
end

local function write_file(path, contents)
	local file, err = io.open(path, "wb")
	if not file then return nil, err end
	file:write(contents)
	file:close()
	return true
end

-- rsync exits 23/24 when some files could not be read or vanished: worth a warning only.
local function rsync(arguments)
	local status, output = slurm.allocator_command("/usr/bin/env rsync --numeric-ids -a " .. arguments)
	if status == 23 or status == 24 then
		slurm.log_info("WARNING: rsync %s: partial copy: %s", arguments, output)
		return true
	end
	return status == 0, output
end

local function staging_root(user_id)
	return scratch_path .. "/" .. math.floor(user_id) .. "/slurm/scrun"
end

function slurm_scrun_stage_in(id, bundle, spool_dir, config_file, job_id, user_id, group_id, job_env)
	slurm.log_debug("stage_in(%s, %s, %s, %s, %d, %d, %d)",
		id, bundle, spool_dir, config_file, job_id, user_id, group_id)

	local text = read_file(config_file)
	if not text then
		slurm.log_error("cannot read %s", config_file)
		return slurm.ERROR
	end
	local config = from_json(text)
	local src_rootfs = config["root"]["path"]
	if string.sub(src_rootfs, 1, 1) ~= "/" then
		src_rootfs = bundle .. "/" .. src_rootfs -- always use an absolute path
	end

	local dst_bundle = staging_root(user_id) .. "/" .. id
	local dst_config = dst_bundle .. "/config.json"
	local dst_rootfs = dst_bundle .. "/rootfs"

	local status, output = slurm.allocator_command("mkdir -p -- " .. quote(dst_rootfs))
	if status ~= 0 then
		slurm.log_error("mkdir %s failed (%d): %s", dst_rootfs, status, output)
		return slurm.ERROR
	end
	-- From here on stage-out removes what was made, even if stage-in fails.
	slurm.set_bundle_path(dst_bundle)
	slurm.set_root_path(dst_rootfs)

	local ok
	ok, output = rsync("--exclude=/proc --exclude=/sys --delete-after -- " .. quote(src_rootfs .. "/") .. " " .. quote(dst_rootfs .. "/"))
	if not ok then
		slurm.log_error("copying %s to %s failed: %s", src_rootfs, dst_rootfs, output)
		return slurm.ERROR
	end
	config["root"]["path"] = dst_rootfs

	-- runc refuses most of what follows without a user namespace: always ask for one, and map
	-- the container's user and group onto the job's.
	local process_user_id, process_group_id = 0, 0
	if config["process"] ~= nil and config["process"]["user"] ~= nil then
		local user = config["process"]["user"]
		process_user_id = user["uid"] or 0
		process_group_id = user["gid"] or 0
		user["additionalGids"] = nil -- not possible without root on the node
	end

	if config["linux"] ~= nil then
		local linux = config["linux"]
		local found = false
		if linux["namespaces"] == nil then
			linux["namespaces"] = {}
		end
		for _, namespace in ipairs(linux["namespaces"]) do
			if namespace["type"] == "user" then
				found = true
				break
			end
		end
		if not found then
			table.insert(linux["namespaces"], { type = "user" })
		end
		linux["uidMappings"] = { { containerID = process_user_id, hostID = math.floor(user_id), size = 1 } }
		linux["gidMappings"] = { { containerID = process_group_id, hostID = math.floor(group_id), size = 1 } }
		linux["cgroupsPath"] = nil -- the node's slurmstepd chooses the cgroup
		if linux["sysctl"] ~= nil then
			-- Docker's default names every group id, which a one-id mapping cannot hold.
			linux["sysctl"]["net.ipv4.ping_group_range"] = nil
		end
	end

	-- sysfs cannot be mounted in a user namespace that shares the host's network namespace
	-- (netns = "host"): bind the node's /sys instead, as rootless Podman does.
	local own_network = false
	for _, namespace in ipairs((config["linux"] or {})["namespaces"] or {}) do
		if namespace["type"] == "network" then
			own_network = true
		end
	end
	for _, mount in ipairs(config["mounts"] or {}) do
		if mount["type"] == "sysfs" and not own_network then
			mount["type"] = "bind"
			mount["source"] = "/sys"
			mount["options"] = { "rbind", "nosuid", "noexec", "nodev", "ro" }
		end
	end

	-- Bind mounts name files of the submission host: copy them into the staged root instead,
	-- and remember them so that stage-out does not copy them back into the image.
	local copied = {}
	if config["mounts"] ~= nil then
		local mounts = {}
		for _, mount in ipairs(config["mounts"]) do
			if mount["options"] ~= nil then
				local options = {}
				for _, option in ipairs(mount["options"]) do
					if string.sub(option, 1, 4) ~= "gid=" and string.sub(option, 1, 4) ~= "uid=" then
						table.insert(options, option)
					end
				end
				mount["options"] = #options > 0 and options or nil
			end
			local source = mount["source"] or ""
			if mount["type"] == "bind" and string.sub(source, 1, 4) ~= "/sys" and string.sub(source, 1, 5) ~= "/proc"
				and string.sub(source, 1, 4) ~= "/dev" then
				local target = dst_rootfs .. mount["destination"]
				local copy = string.format(
					"if [ -d %s ]; then mkdir -p -- %s && rsync --numeric-ids -a -- %s %s; " ..
					"else mkdir -p -- \"$(dirname -- %s)\" && rsync --numeric-ids -a -- %s %s; fi",
					quote(source), quote(target), quote(source .. "/"), quote(target .. "/"),
					quote(target), quote(source), quote(target))
				status, output = slurm.allocator_command(copy)
				if status ~= 0 then
					slurm.log_info("WARNING: copying bind mount %s failed: %s", source, output)
				end
				table.insert(copied, mount["destination"])
			else
				table.insert(mounts, mount)
			end
		end
		config["mounts"] = mounts
	end
	local excluded = { "/proc", "/sys" }
	for _, destination in ipairs(copied) do
		table.insert(excluded, destination)
	end
	write_file(dst_bundle .. "/stage-out.exclude", table.concat(excluded, "\n") .. "\n")

	-- A version older runc and crun accept, at the risk of newer features being ignored.
	config["ociVersion"] = "1.0.0"

	-- The job's environment (SLURM_JOB_ID, SCRUN_*) inside the container: optional.
	if config["process"]["env"] == nil then
		config["process"]["env"] = {}
	end
	for _, variable in ipairs(job_env) do
		table.insert(config["process"]["env"], variable)
	end

	config["hooks"] = nil
	config["process"]["rlimits"] = nil

	local written, err = write_file(dst_config, to_json(config))
	if not written then
		slurm.log_error("cannot write %s: %s", dst_config, err)
		return slurm.ERROR
	end
	slurm.log_info("staged %s at %s", id, dst_bundle)
	return slurm.SUCCESS
end

function slurm_scrun_stage_out(id, bundle, orig_bundle, root_path, orig_root_path, spool_dir, config_file, job_id, user_id, group_id)
	slurm.log_debug("stage_out(%s, %s, %s, %s, %s, %s, %s, %d, %d, %d)",
		id, bundle, orig_bundle, root_path or "", orig_root_path or "", spool_dir, config_file, job_id, user_id, group_id)

	if bundle == orig_bundle then
		slurm.log_info("skipping stage_out as bundle=orig_bundle=%s", bundle)
		return slurm.SUCCESS
	end
	if string.sub(bundle, 1, #staging_root(user_id) + 1) ~= staging_root(user_id) .. "/" then
		slurm.log_error("refusing to remove %s: not under %s", bundle, staging_root(user_id))
		return slurm.ERROR
	end

	-- config.json is written last: without it stage-in did not finish, and a partial copy must
	-- not replace the container's files.
	if root_path ~= nil and orig_root_path ~= nil and read_file(bundle .. "/config.json") ~= nil then
		if string.sub(orig_root_path, 1, 1) ~= "/" then
			orig_root_path = orig_bundle .. "/" .. orig_root_path
		end
		-- The container's changes go back to its root filesystem (docker commit, podman start).
		local ok, output = rsync("--delete-after --exclude-from=" .. quote(bundle .. "/stage-out.exclude") ..
			" -- " .. quote(root_path .. "/") .. " " .. quote(orig_root_path .. "/"))
		if not ok then
			slurm.log_info("WARNING: copying %s back to %s failed: %s", root_path, orig_root_path, output)
		end
	end

	local status, output = slurm.allocator_command("rm --preserve-root=all --one-file-system -rf -- " .. quote(bundle))
	if status ~= 0 then
		slurm.log_error("removing %s failed: %s", bundle, output)
		return slurm.ERROR
	end
	return slurm.SUCCESS
end

return slurm.SUCCESS
