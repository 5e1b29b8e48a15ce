-- scrun-minimal.lua: for sites where the submission host's container storage is also mounted,
-- at the same path, on every compute node. Nothing is copied: the node runs the bundle Docker
-- or Podman made. Slurm 23.02 and later run the root.path of config.json; 22.05 runs
-- <bundle>/rootfs, which Podman's bundles do not have (use scrun.lua, or no script at all:
-- scrun's built-in staging handles both). Install as scrun.lua beside slurm.conf.

function slurm_scrun_stage_in(id, bundle, spool_dir, config_file, job_id, user_id, group_id, job_env)
	local file = io.open(config_file, "r")
	if not file then
		slurm.log_error("container %s: cannot read %s", id, config_file)
		return slurm.ERROR
	end
	file:close()
	slurm.log_info("container %s runs from %s in job %d", id, bundle, job_id)
	return slurm.SUCCESS
end

function slurm_scrun_stage_out(id, bundle, orig_bundle, root_path, orig_root_path, spool_dir, config_file, job_id, user_id, group_id)
	slurm.log_debug("container %s done in job %d", id, job_id)
	return slurm.SUCCESS
end

return slurm.SUCCESS
